// The running agent's own view of itself (`/api/state`, what the live page polls), waited on until
// a condition holds: tests wait for what the agent did, not for a guessed number of seconds.
import type { AgentState } from '../../agent/http/agent-view.ts';
import { sleep } from './mqtt-harness.ts';

/** Polls `/api/state` on `port` until `holds`; throws after `timeoutMs` with the cameras last seen. */
export async function stateUntil(port: number, holds: (s: AgentState) => boolean, what: string, timeoutMs = 60_000): Promise<AgentState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await (await fetch(`http://127.0.0.1:${port}/api/state`)).json()) as AgentState;
    if (holds(state)) return state;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}; last state: ${JSON.stringify(state.cameras)}`);
    await sleep(100);
  }
}

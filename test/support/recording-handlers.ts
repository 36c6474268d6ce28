// Test double for the agent behind the command dispatcher: records every call and answers
// { done: <command> }, so a test sees which handler a command reached, with which arguments.
import type { CommandHandlers } from '../../agent/commands/types.ts';
import { ok } from '../../util/result.ts';

export function recordingHandlers(): { calls: Array<[string, unknown]>; handlers: CommandHandlers } {
  const calls: Array<[string, unknown]> = [];
  const record = (name: string) => async (args?: unknown) => (calls.push([name, args ?? {}]), ok({ done: name }));
  const handlers: CommandHandlers = {
    retune: record('retune'),
    rollback: record('rollback'),
    reload: record('reload'),
    set: record('set'),
    snapshot: record('snapshot'),
    status: record('status'),
  };
  return { calls, handlers };
}

import type { Result } from '../../util/result.ts';

export const COMMAND_NAMES = ['retune', 'rollback', 'reload', 'set', 'snapshot', 'status'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Start a re-tuning job; `camera` limits it to that camera's normal reservoir. */
export interface RetuneArgs {
  camera?: string;
}

/** Go back to the previous prompt set (of `camera`, or the agent's). */
export interface RollbackArgs {
  camera?: string;
}

/** At least one of threshold / sensitivity / enabled; `enabled` needs `camera`. */
export interface SetArgs {
  /** On the normalised score, 0..1. */
  threshold?: number;
  /** 0..1, as `detector.sensitivity`. */
  sensitivity?: number;
  /** Which camera the change applies to; all cameras when absent (threshold, sensitivity). */
  camera?: string;
  enabled?: boolean;
}

export interface SnapshotArgs {
  camera: string;
}

/**
 * What the agent does for each command. Implemented by the agent (the lead); the dispatcher has
 * already validated and authenticated the arguments. A handler should return promptly: long work
 * (a re-tuning job) is started and reported elsewhere (`P/retune/state`). An `err` result becomes an
 * error reply; the handler is responsible for leaving the agent unchanged when it returns one.
 */
export interface CommandHandlers {
  retune(args: RetuneArgs): Promise<Result<unknown>>;
  rollback(args: RollbackArgs): Promise<Result<unknown>>;
  reload(): Promise<Result<unknown>>;
  set(args: SetArgs): Promise<Result<unknown>>;
  snapshot(args: SnapshotArgs): Promise<Result<unknown>>;
  status(): Promise<Result<unknown>>;
}

/** Parsed, validated command. */
export type Command =
  | { name: 'retune'; args: RetuneArgs }
  | { name: 'rollback'; args: RollbackArgs }
  | { name: 'reload'; args: Record<string, never> }
  | { name: 'set'; args: SetArgs }
  | { name: 'snapshot'; args: SnapshotArgs }
  | { name: 'status'; args: Record<string, never> };

/** The JSON every command gets back, over MQTT or HTTP. `request_id` echoes the request's. */
export type CommandReply =
  | { ok: true; command: string; request_id?: string; result: unknown }
  | { ok: false; command: string; request_id?: string; error: string };

export interface CommandRequest {
  /** From the topic (`P/cmd/<name>`) or the URL (`/api/cmd/<name>`). */
  name: string;
  payload: Buffer | string;
  /**
   * The transport already vouches for the sender (the HTTP page reached over loopback), so no
   * signature is required even when a command secret is set.
   */
  trusted?: boolean;
}

export interface CommandDispatcher {
  dispatch(request: CommandRequest): Promise<CommandReply>;
}

import type { Static } from 'typebox';
import type { Result } from '../../util/result.ts';
import type { COMMAND_SCHEMAS } from './schemas.ts';

export const COMMAND_NAMES = ['retune', 'rollback', 'reload', 'set', 'snapshot', 'status'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

type Schemas = typeof COMMAND_SCHEMAS;
/** A command's arguments: its schema's fields without the envelope (request_id, ts, sig). */
type ArgsOf<N extends CommandName> = Omit<Static<Schemas[N]>, 'request_id' | 'ts' | 'sig'>;

export type RetuneArgs = ArgsOf<'retune'>;
export type SetArgs = ArgsOf<'set'>;
export type SnapshotArgs = ArgsOf<'snapshot'>;

/**
 * What the agent does for each command. Implemented by the agent (the lead); the dispatcher has
 * already validated and authenticated the arguments. A handler should return promptly: long work
 * (a re-tuning job) is started and reported elsewhere (`P/retune/state`). An `err` result becomes an
 * error reply; the handler is responsible for leaving the agent unchanged when it returns one.
 */
export interface CommandHandlers {
  retune(args: RetuneArgs): Promise<Result<unknown>>;
  rollback(): Promise<Result<unknown>>;
  reload(): Promise<Result<unknown>>;
  set(args: SetArgs): Promise<Result<unknown>>;
  snapshot(args: SnapshotArgs): Promise<Result<unknown>>;
  status(): Promise<Result<unknown>>;
}

/** Parsed, validated command. */
export type Command = { [N in CommandName]: { name: N; args: ArgsOf<N> } }[CommandName];

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

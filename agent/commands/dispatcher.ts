import { createLogger } from '../../util/log.ts';
import type { Result } from '../../util/result.ts';
import { createSignatureVerifier } from './signature.ts';
import type { Command, CommandDispatcher, CommandHandlers, CommandReply, CommandRequest } from './types.ts';
import { isCommandName, parseCommandBody, requestIdOf, validateCommand } from './validate.ts';

const log = createLogger('commands');

export interface DispatcherOptions {
  /** `mqtt.command_secret`: when set, untrusted commands must be signed (see signature.ts). */
  secret: string | null;
  now?: () => number;
}

function run(handlers: CommandHandlers, cmd: Command): Promise<Result<unknown>> {
  switch (cmd.name) {
    case 'retune':
      return handlers.retune(cmd.args);
    case 'rollback':
      return handlers.rollback(cmd.args);
    case 'reload':
      return handlers.reload();
    case 'set':
      return handlers.set(cmd.args);
    case 'snapshot':
      return handlers.snapshot(cmd.args);
    case 'status':
      return handlers.status();
  }
}

/**
 * The one path every command takes, from MQTT or from the HTTP page: size, JSON, name, signature,
 * arguments; only a command that passes all of them reaches its handler. Every outcome is a reply,
 * never an exception.
 */
export function createCommandDispatcher(handlers: CommandHandlers, opts: DispatcherOptions): CommandDispatcher {
  const verifier = opts.secret ? createSignatureVerifier(opts.secret, opts.now) : null;

  const dispatch = async (req: CommandRequest): Promise<CommandReply> => {
    const refuse = (error: string, request_id?: string): CommandReply => {
      log.warn('command refused', { command: req.name, error });
      return { ok: false, command: req.name, ...(request_id ? { request_id } : {}), error };
    };
    const body = parseCommandBody(req.payload);
    if (!body.ok) return refuse(body.error);
    const requestId = requestIdOf(body.value);
    if (!isCommandName(req.name)) return refuse(`unknown command "${req.name}"`, requestId);
    if (verifier && !req.trusted) {
      const problem = verifier.problem(req.name, body.value);
      if (problem) return refuse(problem, requestId);
    }
    const cmd = validateCommand(req.name, body.value);
    if (!cmd.ok) return refuse(cmd.error, requestId);

    log.info('command', { command: cmd.value.name, args: cmd.value.args });
    let outcome: Result<unknown>;
    try {
      outcome = await run(handlers, cmd.value);
    } catch (e) {
      log.error('command handler failed', { command: req.name, error: (e as Error).stack ?? String(e) });
      return refuse(`${req.name} failed: ${(e as Error).message}`, requestId);
    }
    if (!outcome.ok) return refuse(outcome.error, requestId);
    return { ok: true, command: req.name, ...(requestId ? { request_id: requestId } : {}), result: outcome.value ?? null };
  };

  return { dispatch };
}

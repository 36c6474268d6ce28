import { createLogger } from '../../util/log.ts';
import type { Result } from '../../util/result.ts';
import { parseCommandBody } from './command-body.ts';
import { createSignatureVerifier } from './signature.ts';
import type { Command, CommandDispatcher, CommandHandlers, CommandReply, CommandRequest } from './types.ts';
import { isCommandName, requestIdOf, validateCommand } from './validate.ts';

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
      return handlers.rollback();
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
 * The one path every command takes, from MQTT or from the HTTP page: size, depth, JSON, name,
 * signature, arguments; only a command that passes all of them reaches its handler. Every outcome is
 * a reply, never an exception: a throw anywhere on the way (a handler, or a bug in a check) becomes
 * an error reply and a logged error.
 */
export function createCommandDispatcher(handlers: CommandHandlers, opts: DispatcherOptions): CommandDispatcher {
  const verifier = opts.secret ? createSignatureVerifier(opts.secret, opts.now) : null;

  const refuse = (req: CommandRequest, error: string, request_id?: string): CommandReply => {
    log.warn('command refused', { command: req.name, error });
    return { ok: false, command: req.name, ...(request_id ? { request_id } : {}), error };
  };

  const checkAndRun = async (req: CommandRequest, requestId: { value?: string }): Promise<CommandReply> => {
    const body = parseCommandBody(req.payload);
    if (!body.ok) return refuse(req, body.error);
    requestId.value = requestIdOf(body.value);
    if (!isCommandName(req.name)) return refuse(req, `unknown command "${req.name}"`, requestId.value);
    if (verifier && !req.trusted) {
      const problem = verifier.problem(req.name, body.value);
      if (problem) return refuse(req, problem, requestId.value);
    }
    const cmd = validateCommand(req.name, body.value);
    if (!cmd.ok) return refuse(req, cmd.error, requestId.value);

    log.info('command', { command: cmd.value.name, args: cmd.value.args });
    const outcome = await run(handlers, cmd.value);
    if (!outcome.ok) return refuse(req, outcome.error, requestId.value);
    return { ok: true, command: req.name, ...(requestId.value ? { request_id: requestId.value } : {}), result: outcome.value ?? null };
  };

  const dispatch = async (req: CommandRequest): Promise<CommandReply> => {
    const requestId: { value?: string } = {};
    try {
      return await checkAndRun(req, requestId);
    } catch (e) {
      log.error('command failed', { command: req.name, error: (e as Error)?.stack ?? String(e) });
      return refuse(req, `${req.name} failed: ${(e as Error)?.message ?? String(e)}`, requestId.value);
    }
  };

  return { dispatch };
}

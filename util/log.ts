// One-line structured logs on stderr, so stdout stays free for command output (paths, JSON).
// Every line passes through util/redact.ts: the last line of defence against a password that
// reached a message or a field (an ffmpeg line, a URL in an error).
import { redact } from './redact.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = order[(process.env.LINEWATCH_LOG_LEVEL as Level) ?? 'info'] ?? order.info;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(scope: string): Logger {
  const emit = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < threshold) return;
    const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields, redactString)}` : '';
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${scope}] ${redact(msg)}${extra}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** JSON.stringify replacer: strings redacted before they are escaped, whatever object holds them. */
function redactString(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? redact(value) : value;
}

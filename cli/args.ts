// Option parsing shared by the commands (model, tune, synth, eval, retune, ...): node:util
// parseArgs in strict mode, typed number options, and one place that turns usage mistakes into
// exit code 2 with the usage text and user errors into exit code 1 with their message.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UserError } from '../util/result.ts';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs without positionals; unknown or malformed options become UsageError. */
export function parseOptions<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** parseArgs with exactly `count` positionals (named `what` in the message when the count is wrong). */
export function parseOptionsAnd<O extends Options>(argv: string[], options: O, count: number, what: string) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== count) throw new UsageError(`expected exactly ${count === 1 ? 'one' : count} ${what}, got ${parsed.positionals.length}`);
  return { values: parsed.values, positionals: parsed.positionals };
}

export function required(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function wholeNumber(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${name} takes a whole number >= ${min}, not '${value}'`);
  }
  return Number(value);
}

export function realNumber(name: string, value: string | undefined, check: (x: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || !check(x)) throw new UsageError(`--${name} takes ${what}, not '${value}'`);
  return x;
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} takes one of ${allowed.join(', ')}, not '${value}'`);
  return value as T;
}

/** Runs a command body: usage errors -> 2 (with usage), user errors -> their exit code, message on stderr. */
export async function runCommand(command: string, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`linewatch ${command}: ${e.message}\n\n${usage}`);
      return 2;
    }
    if (e instanceof UserError) {
      process.stderr.write(`linewatch ${command}: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

import { err, ok, type Result } from '../../util/result.ts';
import { COMMAND_NAMES, type Command, type CommandName } from './types.ts';

/** Larger payloads are refused before parsing: no command needs more, and JSON.parse of megabytes stalls the loop. */
export const MAX_COMMAND_BYTES = 64 * 1024;

/** Fields every command may carry besides its arguments. */
export const ENVELOPE_FIELDS = ['request_id', 'ts', 'sig'] as const;

type FieldCheck = (v: unknown) => string | null;

const unitInterval: FieldCheck = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1 ? null : 'must be a number from 0 to 1';
const cameraName: FieldCheck = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= 128 ? null : 'must be a camera name (a non-empty string)';
const boolean: FieldCheck = (v) => (typeof v === 'boolean' ? null : 'must be true or false');

interface Schema {
  fields: Record<string, FieldCheck>;
  required?: string[];
  /** A rule across fields, checked once each field is valid. */
  rule?: (args: Record<string, unknown>) => string | null;
}

const SCHEMAS: Record<CommandName, Schema> = {
  retune: { fields: { camera: cameraName } },
  rollback: { fields: { camera: cameraName } },
  reload: { fields: {} },
  status: { fields: {} },
  snapshot: { fields: { camera: cameraName }, required: ['camera'] },
  set: {
    fields: { threshold: unitInterval, sensitivity: unitInterval, camera: cameraName, enabled: boolean },
    rule: (a) => {
      if (a.threshold === undefined && a.sensitivity === undefined && a.enabled === undefined) {
        return 'set needs at least one of "threshold", "sensitivity", "enabled"';
      }
      if (a.enabled !== undefined && a.camera === undefined) return '"enabled" needs "camera": which camera to switch';
      return null;
    },
  },
};

export function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

/** The JSON object of a command payload; an empty payload is `{}` (e.g. `mosquitto_pub -n`). */
export function parseCommandBody(payload: Buffer | string): Result<Record<string, unknown>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_COMMAND_BYTES) return err(`payload of ${size} bytes exceeds the ${MAX_COMMAND_BYTES}-byte limit`);
  const text = payload.toString().trim();
  if (text === '') return ok({});
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return err(`payload is not valid JSON: ${(e as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return err('payload must be a JSON object');
  return ok(body as Record<string, unknown>);
}

/** The request id to echo, when the body has a usable one. */
export function requestIdOf(body: Record<string, unknown>): string | undefined {
  const id = body.request_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/** Checks the arguments of `name` strictly: unknown fields and wrong types are errors, nothing is coerced. */
export function validateCommand(name: CommandName, body: Record<string, unknown>): Result<Command> {
  const schema = SCHEMAS[name];
  if (body.request_id !== undefined && requestIdOf(body) === undefined) return err('"request_id" must be a string of 1 to 128 characters');
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if ((ENVELOPE_FIELDS as readonly string[]).includes(key)) continue;
    const check = schema.fields[key];
    if (!check) {
      const known = Object.keys(schema.fields);
      return err(`unknown field "${key}" for ${name}${known.length ? ` (fields: ${known.join(', ')})` : ' (it takes no arguments)'}`);
    }
    const problem = check(value);
    if (problem) return err(`"${key}" ${problem}`);
    args[key] = value;
  }
  for (const key of schema.required ?? []) if (args[key] === undefined) return err(`${name} needs "${key}"`);
  const problem = schema.rule?.(args);
  if (problem) return err(problem);
  return ok({ name, args } as Command);
}

// A parsed command body against its command's schema (schemas.ts), and the one rule across fields
// (`set`). Problems are phrased for the sender: the field, what it must be, the fields there are.
import { err, ok, type Result } from '../../util/result.ts';
import { compileSchema, type SchemaProblem } from '../../util/schema.ts';
import { COMMAND_SCHEMAS, ENVELOPE_FIELDS, UNKNOWN_FIELD_NOTES } from './schemas.ts';
import { COMMAND_NAMES, type Command, type CommandName, type SetArgs } from './types.ts';

const VALIDATORS = Object.fromEntries(COMMAND_NAMES.map((n) => [n, compileSchema(COMMAND_SCHEMAS[n])])) as {
  [N in CommandName]: ReturnType<typeof compileSchema<(typeof COMMAND_SCHEMAS)[N]>>;
};

export function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}

/** The request id to echo, when the body has a usable one (own property only). */
export function requestIdOf(body: Record<string, unknown>): string | undefined {
  const id = Object.hasOwn(body, 'request_id') ? body.request_id : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/** A field name as a reply shows it: quoted, and cut short so a huge key does not fill the reply. */
const shown = (key: string) => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);

function argumentFields(name: CommandName): string[] {
  return Object.keys(COMMAND_SCHEMAS[name].properties).filter((k) => !ENVELOPE_FIELDS.includes(k));
}

function describe(name: CommandName, p: SchemaProblem): string {
  const field = String(p.path[0] ?? '');
  if (p.error.keyword === 'additionalProperties') {
    const known = argumentFields(name);
    const fields = known.length ? `fields: ${known.join(', ')}` : 'it takes no arguments';
    const note = Object.hasOwn(UNKNOWN_FIELD_NOTES, name) ? `; ${UNKNOWN_FIELD_NOTES[name]}` : '';
    return `unknown field ${shown(field)} for ${name} (${fields}${note})`;
  }
  if (p.error.keyword === 'required') return `${name} needs ${shown(field)}`;
  const properties = COMMAND_SCHEMAS[name].properties as Record<string, { description?: string }>;
  const declared = Object.hasOwn(properties, field) ? properties[field].description : undefined;
  return `${shown(field)} must be ${declared ?? p.message}`;
}

function setRule(a: SetArgs): string | null {
  if (a.threshold === undefined && a.sensitivity === undefined && a.enabled === undefined) {
    return 'set needs at least one of "threshold", "sensitivity", "enabled"';
  }
  if (a.enabled !== undefined && a.camera === undefined) return '"enabled" needs "camera": which camera to switch';
  return null;
}

/** Checks the body of `name` strictly: unknown fields and wrong types are errors, nothing is coerced. */
export function validateCommand(name: CommandName, body: Record<string, unknown>): Result<Command> {
  const checked = VALIDATORS[name].check(body);
  if (!checked.ok) return err([...new Set(checked.error.map((p) => describe(name, p)))].join('; '));
  const args = Object.fromEntries(Object.entries(body).filter(([k]) => !ENVELOPE_FIELDS.includes(k)));
  const problem = name === 'set' ? setRule(args as SetArgs) : null;
  if (problem) return err(problem);
  return ok({ name, args } as Command);
}

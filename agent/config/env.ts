// LINEWATCH_* environment overrides, derived from the configuration schema: every key the schema
// declares has a variable, `LINEWATCH_` + the key path joined with `_`, upper-cased; a camera key
// uses the camera name upper-cased with `-` turned into `_` (camera `line-1` ->
// LINEWATCH_CAMERAS_LINE_1_FPS), for the cameras the file defines (a variable cannot create a
// camera). Values of keys that take text are taken verbatim (`null` or empty = null where null
// is allowed); other values are parsed as YAML (`5`, `true`, `[0, 0, 640, 480]`, `[cuda, cpu]`).
// A variable under a name the configuration owns (LINEWATCH_DEVICE_ID, LINEWATCH_MQTT_*, ...)
// that names no key is an error; other LINEWATCH_* variables (LINEWATCH_LOG_LEVEL) are not
// configuration.
import YAML from 'yaml';
import { err, ok, type Result } from '../../util/result.ts';
import { formatPath } from '../../util/schema.ts';
import { acceptsNull, defineOwn, isMap, isPlainObject, isSection, mapEntry, nonNull, ownValue, type SchemaNode, valueAt } from './schema-nodes.ts';

const ENV_PREFIX = 'LINEWATCH_';

/** The `<NAME>` part of a camera's variable names. */
export const envWord = (key: string): string => key.toUpperCase().replace(/-/g, '_');

interface EnvTarget {
  segs: string[];
  node: SchemaNode;
}

export interface EnvProblem {
  variable: string;
  reason: string;
}

/** Every variable name that sets a key, for the map entries (cameras) present in `raw`. */
function envTargets(root: SchemaNode, raw: Record<string, unknown>): Map<string, EnvTarget> {
  const targets = new Map<string, EnvTarget>();
  const visit = (node: SchemaNode, segs: string[], words: string[]) => {
    if (isSection(node)) {
      for (const [key, child] of Object.entries(node.properties ?? {})) visit(child, [...segs, key], [...words, key]);
    } else if (isMap(node)) {
      const { pattern, entry } = mapEntry(node);
      const entries = valueAt(raw, segs);
      for (const key of isPlainObject(entries) ? Object.keys(entries) : []) {
        if (pattern.test(key)) visit(entry, [...segs, key], [...words, envWord(key)]);
      }
    } else {
      targets.set(ENV_PREFIX + words.join('_').toUpperCase(), { segs, node });
    }
  };
  visit(root, [], []);
  return targets;
}

/** Whether `name` lies under a top-level key: such a variable that names no key is a mistake. */
function ownedByConfig(root: SchemaNode, name: string): boolean {
  return Object.entries(root.properties ?? {}).some(([key, node]) => {
    const word = ENV_PREFIX + key.toUpperCase();
    return isSection(node) || isMap(node) ? name.startsWith(`${word}_`) : name === word;
  });
}

function parseEnvValue(text: string, node: SchemaNode): Result<unknown> {
  if (nonNull(node).type === 'string') return ok(acceptsNull(node) && (text === '' || text === 'null') ? null : text);
  try {
    return ok(YAML.parse(text));
  } catch (e) {
    return err(`value is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

function setOwnIn(obj: Record<string, unknown>, segs: string[], value: unknown): void {
  let cur = obj;
  for (const s of segs.slice(0, -1)) {
    if (!isPlainObject(ownValue(cur, s))) defineOwn(cur, s, {});
    cur = ownValue(cur, s) as Record<string, unknown>;
  }
  defineOwn(cur, segs[segs.length - 1], value);
}

/**
 * Writes the variables of `env` into `raw`. Returns the variable each key came from (by its
 * `formatPath` key path) and the variables that could not be applied.
 */
export function applyEnv(root: SchemaNode, raw: Record<string, unknown>, env: NodeJS.ProcessEnv): { fromEnv: Map<string, string>; problems: EnvProblem[] } {
  const targets = envTargets(root, raw);
  const fromEnv = new Map<string, string>();
  const problems: EnvProblem[] = [];
  for (const [variable, text] of Object.entries(env)) {
    if (text === undefined || !variable.startsWith(ENV_PREFIX)) continue;
    const target = targets.get(variable);
    if (!target) {
      if (ownedByConfig(root, variable)) {
        problems.push({ variable, reason: 'environment variable names no configuration key (camera keys only for cameras in the file)' });
      }
      continue;
    }
    const value = parseEnvValue(text, target.node);
    if (!value.ok) {
      problems.push({ variable, reason: value.error });
      continue;
    }
    setOwnIn(raw, target.segs, value.value);
    fromEnv.set(formatPath(target.segs), variable);
  }
  return { fromEnv, problems };
}

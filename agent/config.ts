// Agent configuration: YAML file + LINEWATCH_* environment overrides, validated strictly against
// the one schema of agent/config/schema.ts (the TypeScript types below are derived from it).
//
// Every problem is reported at once, each as `key.path: reason`, with the YAML line or the
// environment variable it came from; unknown keys are named with a close-match hint. The steps:
// read the YAML (yaml-lines.ts), apply the environment (env.ts, which documents the variable
// names), fill in defaults (defaults.ts), validate with ajv and phrase its errors (phrase.ts),
// resolve paths, sources, the bundle and cron (resolve.ts), then the cross-key rules (rules.ts).
//
// Relative paths resolve against the directory of the file they were written in; relative paths
// given through the environment resolve against the working directory.
import path from 'node:path';
import { err, ok, type Result } from '../util/result.ts';
import { compileSchema, formatPath } from '../util/schema.ts';
import type { SourceSpec } from './camera/source-spec.ts';
import { fillDefaults } from './config/defaults.ts';
import { applyEnv } from './config/env.ts';
import { type Problem, phraseProblems } from './config/phrase.ts';
import { type BundleRef, resolveValues } from './config/resolve.ts';
import { CROSS_KEY_RULES } from './config/rules.ts';
import { CAMERA_NAME, CameraSchema, ConfigSchema, type RawCamera, type RawConfig } from './config/schema.ts';
import { isPlainObject, type SchemaNode, type Segment } from './config/schema-nodes.ts';
import { readYaml } from './config/yaml-lines.ts';

export type { BundleRef };

export type CameraConfig = Omit<RawCamera, 'source'> & { source: SourceSpec };

export type AgentConfig = Omit<RawConfig, 'model' | 'cameras'> & {
  model: Omit<RawConfig['model'], 'bundle'> & { bundle: BundleRef };
  cameras: Record<string, CameraConfig>;
};
export type DetectorConfig = AgentConfig['detector'];

const configValidator = compileSchema(ConfigSchema);
const cameraValidator = compileSchema(CameraSchema);
const ROOT = ConfigSchema as SchemaNode;
const cameraName = new RegExp(CAMERA_NAME, 'u');

/** Problems of the file's values against the schema, with the bodies of badly named cameras checked too. */
function schemaProblems(raw: Record<string, unknown>): Problem[] {
  const r = configValidator.check(raw);
  const problems = r.ok ? [] : phraseProblems(r.error, ROOT, raw);
  const cameras = isPlainObject(raw.cameras) ? raw.cameras : {};
  for (const [name, body] of Object.entries(cameras)) {
    if (cameraName.test(name)) continue; // checked above, as a map entry
    const c = cameraValidator.check(body);
    if (!c.ok) problems.push(...phraseProblems(c.error, CameraSchema as SchemaNode, body, ['cameras', name]));
  }
  return problems;
}

/**
 * Reads, overrides from `env` and validates a configuration file. On failure the error holds
 * every problem, one per line: `key.path: reason` (plus the YAML line or the environment variable).
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Result<AgentConfig> {
  const yaml = readYaml(file);
  if (!yaml.ok) return yaml;
  const raw = yaml.value.data ?? {};
  if (!isPlainObject(raw)) return err(`${file}: the configuration must be a YAML mapping of keys`);

  const { fromEnv, problems: envProblems } = applyEnv(ROOT, raw, env);
  fillDefaults(ROOT, raw);
  const fileDir = path.dirname(path.resolve(file));
  const problems: Problem[] = [
    ...envProblems.map((p) => ({ path: [p.variable], reason: p.reason })),
    ...schemaProblems(raw),
    ...resolveValues(raw, (segs) => (fromEnv.has(formatPath(segs)) ? process.cwd() : fileDir)),
  ];
  const config = raw as unknown as AgentConfig;
  if (problems.length === 0) problems.push(...CROSS_KEY_RULES.flatMap((rule) => rule(config)));
  if (problems.length === 0) return ok(config);

  const where = (segs: Segment[]): string => {
    const variable = fromEnv.get(formatPath(segs));
    if (variable) return ` (from ${variable})`;
    const line = yaml.value.lineOf(segs);
    return line === undefined ? '' : ` (${path.basename(file)} line ${line})`;
  };
  return err(problems.map((p) => `${formatPath(p.path)}: ${p.reason}${where(p.path)}`).join('\n'));
}

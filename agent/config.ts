// Agent configuration: YAML file + LINEWATCH_* environment overrides, validated strictly.
//
// Why not convict (which the design card names): convict's schema is static. `cameras.<name>` is
// a map of camera names the user chooses, and convict has no schema for "a map whose values all
// follow this sub-schema". The only way in is an `Object`-format key with a custom format
// function, and convict then skips everything under it: strict mode no longer reports unknown
// camera keys (its validate() drops the nested keys of object-valued params), the custom format
// can raise only one error per camera, and there are no environment variables for camera keys
// (convict's `env` names are fixed in the schema). The camera subtree, which is most of what can
// be wrong in a line's configuration, would be validated by hand anyway. This small declarative
// validator gives all problems at once, each as `key.path: reason` (with the YAML line or the
// environment variable it came from), unknown keys named with a close-match hint, and
// environment overrides for camera keys too.
//
// Environment overrides: `LINEWATCH_` + key path joined with `_`, upper-cased, e.g.
// LINEWATCH_MQTT_URL, LINEWATCH_DETECTOR_SENSITIVITY, LINEWATCH_CAMERAS_<NAME>_FPS where <NAME> is
// the camera name upper-cased with `-` turned into `_` (camera `line-1` -> LINEWATCH_CAMERAS_LINE_1_FPS).
// They apply to keys of cameras defined in the file (they cannot create a camera). Values of
// text keys are taken verbatim (`null` or empty = null where null is allowed); other values are
// parsed as YAML (`5`, `true`, `[0, 0, 640, 480]`, `[cuda, cpu]`). A LINEWATCH_DEVICE_ID,
// LINEWATCH_DATA_DIR or LINEWATCH_<SECTION>_* variable that names no key is an error; other
// LINEWATCH_* variables (LINEWATCH_LOG_LEVEL) are not configuration.
//
// Relative paths resolve against the directory of the file they were written in; relative paths
// given through the environment resolve against the working directory.
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../models/onnx/transformer.ts';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { validateDetailed as validateCron } from 'node-cron';
import YAML from 'yaml';
import { err, ok, type Result } from '../util/result.ts';
import type { Roi } from './camera/frame.ts';
import { parseSource, type SourceSpec } from './camera/source-spec.ts';
import type { Polygon } from './detector/ignore-mask.ts';

export type ExecutionProvider = 'tensorrt' | 'cuda' | 'cpu';
export type BundleRef = { kind: 'auto' } | { kind: 'dir'; path: string } | { kind: 'hub'; repo: string };

export interface CameraConfig {
  source: SourceSpec;
  fps: number;
  roi: Roi | null;
  /** Polygons in camera pixels whose area is zeroed in the anomaly map. */
  ignore: Polygon[];
  enabled: boolean;
  /** No frame for this many seconds -> the source is killed and restarted (also the input I/O timeout). */
  watchdog_s: number;
}

export interface AgentConfig {
  device_id: string;
  /** Absolute. */
  data_dir: string;
  model: {
    bundle: BundleRef;
    /** Precision of the bundles the agent builds itself (from a hub repo id); a bundle directory keeps its own. */
    precision: WeightPrecision;
    execution_providers: ExecutionProvider[];
    threads: number;
  };
  mqtt: {
    /** `embedded` or an mqtt://, mqtts://, ws:// or wss:// URL. */
    url: string;
    /** Port of the embedded broker; 0 = any free port. */
    port: number;
    username: string | null;
    password: string | null;
    /** Absolute paths of TLS files. */
    ca: string | null;
    cert: string | null;
    key: string | null;
    protocol_version: 4 | 5;
    topic_prefix: string;
    command_secret: string | null;
    outbox_max_mb: number;
  };
  cameras: Record<string, CameraConfig>;
  detector: {
    sensitivity: number;
    event_open_frames: number;
    event_close_frames: number;
    publish_masks: 'always' | 'on_anomaly' | 'never';
    result_rate_hz: number;
    /** Least time between two `update` messages of one event. */
    event_update_interval_s: number;
  };
  retune: {
    cron: string | null;
    min_normals: number;
    max_normals: number;
    steps: number;
    /** Least time between the end of one re-tuning job and the start of the next. */
    min_interval_s: number;
    /** Least time between two frames of one camera admitted to the normal reservoir. */
    sample_interval_s: number;
  };
  http: {
    enabled: boolean;
    /** 0 = any free port. */
    port: number;
    host: string;
    /** Extra `Host` header values the page answers to (`host` = any port, or `host:port`). */
    allowed_hosts: string[];
  };
}

// ---- schema machinery -------------------------------------------------------------------------

type Segment = string | number;
interface CheckContext {
  /** Directory that relative paths in this value resolve against. */
  baseDir: string;
}
type Check<T> = (value: unknown, ctx: CheckContext) => Result<T>;
const REQUIRED = Symbol('required');

class Field<T> {
  constructor(
    /** The value used when the key is absent, written as in the file (it goes through `check`). */
    readonly dflt: unknown,
    readonly check: Check<T>,
    /** Environment value is text as-is (not YAML); `null`/empty mean null when `nullable`. */
    readonly envText: { nullable: boolean } | null = null,
  ) {}
}
class Section<T> {
  constructor(readonly shape: { [K in keyof T]-?: Node<T[K]> }) {}
}
class MapOf<V> {
  constructor(
    readonly entry: Section<V>,
    readonly checkKey: (key: string) => string | null,
    /** The `<NAME>` part of environment variable names for one entry. */
    readonly envName: (key: string) => string,
  ) {}
}
type Node<T> = Field<T> | Section<T> | (T extends Record<string, infer V> ? MapOf<V> : never);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const withGot = <T>(reason: string, v: unknown): Result<T> => err(`${reason} (got ${show(v)})`);

// ---- value checks -----------------------------------------------------------------------------

function number(opts: { min?: number; max?: number; minExclusive?: number; integer?: boolean }): Check<number> {
  const { min, max, minExclusive, integer } = opts;
  const bounds: string[] = [];
  if (minExclusive !== undefined) bounds.push(`> ${minExclusive}`);
  if (min !== undefined && max !== undefined) bounds.push(`in ${min}..${max}`);
  else if (min !== undefined) bounds.push(`>= ${min}`);
  else if (max !== undefined) bounds.push(`<= ${max}`);
  const expected = `must be ${integer ? 'an integer' : 'a number'} ${bounds.join(' and ')}`.trimEnd();
  return (v) => {
    const good =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (!integer || Number.isInteger(v)) &&
      (min === undefined || v >= min) &&
      (max === undefined || v <= max) &&
      (minExclusive === undefined || v > minExclusive);
    return good ? ok(v) : withGot(expected, v);
  };
}

const bool: Check<boolean> = (v) => (typeof v === 'boolean' ? ok(v) : withGot('must be true or false', v));

function text(pattern?: { re: RegExp; reason: string }): Check<string> {
  return (v) => {
    if (typeof v !== 'string' || v === '') return withGot('must be a non-empty string', v);
    if (pattern && !pattern.re.test(v)) return withGot(pattern.reason, v);
    return ok(v);
  };
}

const nullable =
  <T>(check: Check<T>): Check<T | null> =>
  (v, ctx) =>
    v === null ? ok(null) : check(v, ctx);

function oneOf<T extends string | number>(values: readonly T[]): Check<T> {
  return (v) => ((values as readonly unknown[]).includes(v) ? ok(v as T) : withGot(`must be one of ${values.join(', ')}`, v));
}

const existingFile: Check<string> = (v, ctx) => {
  if (typeof v !== 'string' || v === '') return withGot('must be a file path', v);
  const file = path.resolve(ctx.baseDir, v);
  try {
    readFileSync(file);
    return ok(file);
  } catch {
    return err(`cannot read file ${file}`);
  }
};

const directory: Check<string> = (v, ctx) =>
  typeof v === 'string' && v !== '' ? ok(path.resolve(ctx.baseDir, v)) : withGot('must be a directory path', v);

const port = number({ min: 0, max: 65535, integer: true });

const host: Check<string> = (v) =>
  typeof v === 'string' && (net.isIP(v) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(v))
    ? ok(v)
    : withGot('must be an IP address or a host name', v);

const mqttUrl: Check<string> = (v) => {
  if (v === 'embedded') return ok(v);
  if (typeof v !== 'string') return withGot('must be "embedded" or an mqtt(s):// or ws(s):// URL', v);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return withGot('must be "embedded" or an mqtt(s):// or ws(s):// URL', v);
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol)) {
    return withGot(`unsupported scheme '${url.protocol}' (use mqtt://, mqtts://, ws:// or wss://)`, v);
  }
  if (!url.hostname) return withGot('URL has no host', v);
  return ok(v);
};

const bundle: Check<BundleRef> = (v, ctx) => {
  const expected = 'must be auto, a bundle directory (starting with /, ./ or ../) or a Hugging Face repo id owner/name';
  if (v === 'auto') return ok({ kind: 'auto' });
  if (typeof v !== 'string') return withGot(expected, v);
  if (/^(\/|\.\.?\/)/.test(v)) return ok({ kind: 'dir', path: path.resolve(ctx.baseDir, v) });
  if (/^[\w.-]+\/[\w.-]+$/.test(v)) return ok({ kind: 'hub', repo: v });
  return withGot(expected, v);
};

const providers: Check<ExecutionProvider[]> = (v, ctx) => {
  if (!Array.isArray(v) || v.length === 0) return withGot('must be a non-empty list of tensorrt, cuda, cpu', v);
  const each = oneOf<ExecutionProvider>(['tensorrt', 'cuda', 'cpu']);
  for (const p of v) {
    const r = each(p, ctx);
    if (!r.ok) return r;
  }
  return new Set(v).size === v.length ? ok(v) : withGot('must not repeat a provider', v);
};

const hostList: Check<string[]> = (v) =>
  Array.isArray(v) && v.every((h) => typeof h === 'string' && h.length > 0) ? ok(v) : withGot('must be a list of non-empty strings (host or host:port)', v);

const cron: Check<string | null> = (v) => {
  if (v === null) return ok(null);
  if (typeof v !== 'string') return withGot('must be a cron expression or null', v);
  const r = validateCron(v);
  return r.valid ? ok(v) : err(`invalid cron expression ${show(v)}: ${r.errors.map((e) => e.message).join('; ')}`);
};

const roi: Check<Roi | null> = (v) => {
  if (v === null) return ok(null);
  const expected = 'must be null or [x, y, width, height]: 4 integers, x, y >= 0, width, height > 0';
  if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => typeof n === 'number' && Number.isInteger(n))) {
    return withGot(expected, v);
  }
  const [x, y, w, h] = v as number[];
  return x >= 0 && y >= 0 && w > 0 && h > 0 ? ok([x, y, w, h]) : withGot(expected, v);
};

const polygons: Check<Polygon[]> = (v) => {
  if (!Array.isArray(v)) return withGot('must be a list of polygons, each a list of [x, y] points', v);
  for (const [i, poly] of v.entries()) {
    const isPoint = (p: unknown) =>
      Array.isArray(p) && p.length === 2 && p.every((n) => typeof n === 'number' && Number.isFinite(n));
    if (!Array.isArray(poly) || poly.length < 3 || !poly.every(isPoint)) {
      return withGot(`polygon ${i} must be a list of at least 3 [x, y] points`, poly);
    }
  }
  return ok(v as Polygon[]);
};

const source: Check<SourceSpec> = (v, ctx) =>
  typeof v === 'string' ? parseSource(v, ctx.baseDir) : withGot('must be a string: rtsp://, http(s)://, /dev/videoN, a video file or dir:FOLDER', v);

const TOPIC_WORD = { re: /^[^/+#\s]+$/, reason: 'must not contain /, +, # or spaces (it is part of MQTT topics)' };
const TOPIC_PREFIX = { re: /^[^/+#\s]+(\/[^/+#\s]+)*$/, reason: 'must be topic levels separated by single /, without +, # or spaces' };

// ---- the schema ---------------------------------------------------------------------------------

const NULLABLE_TEXT = { nullable: true };
const TEXT = { nullable: false };

const cameraSchema = new Section<CameraConfig>({
  source: new Field(REQUIRED, source, TEXT),
  fps: new Field(5, number({ minExclusive: 0, max: 120 })),
  roi: new Field(null, roi),
  ignore: new Field([], polygons),
  enabled: new Field(true, bool),
  watchdog_s: new Field(10, number({ minExclusive: 0 })),
});

const camerasSchema = new MapOf(
  cameraSchema,
  (name) => (/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name) ? null : 'camera names are part of MQTT topics: 1-64 letters, digits, _ or -, starting with a letter or digit'),
  (name) => name.toUpperCase().replace(/-/g, '_'),
);

const schema = new Section<AgentConfig>({
  device_id: new Field(REQUIRED, text(TOPIC_WORD), TEXT),
  data_dir: new Field('./var', directory, TEXT),
  model: new Section({
    bundle: new Field<BundleRef>('auto', bundle, TEXT),
    precision: new Field<WeightPrecision>('fp32', oneOf(WEIGHT_PRECISIONS), TEXT),
    execution_providers: new Field<ExecutionProvider[]>(['tensorrt', 'cuda', 'cpu'], providers),
    threads: new Field(0, number({ min: 0, integer: true })),
  }),
  mqtt: new Section({
    url: new Field('embedded', mqttUrl, TEXT),
    port: new Field(1883, port),
    username: new Field(null, nullable(text()), NULLABLE_TEXT),
    password: new Field(null, nullable(text()), NULLABLE_TEXT),
    ca: new Field(null, nullable(existingFile), NULLABLE_TEXT),
    cert: new Field(null, nullable(existingFile), NULLABLE_TEXT),
    key: new Field(null, nullable(existingFile), NULLABLE_TEXT),
    protocol_version: new Field<4 | 5>(5, oneOf([4, 5] as const)),
    topic_prefix: new Field('linewatch', text(TOPIC_PREFIX), TEXT),
    command_secret: new Field(
      null,
      nullable(text({ re: /^.{16,}$/s, reason: 'must be at least 16 characters (it keys HMAC-SHA256)' })),
      NULLABLE_TEXT,
    ),
    outbox_max_mb: new Field(64, number({ minExclusive: 0 })),
  }),
  cameras: camerasSchema,
  detector: new Section({
    sensitivity: new Field(0.5, number({ min: 0, max: 1 })),
    event_open_frames: new Field(3, number({ min: 1, integer: true })),
    event_close_frames: new Field(5, number({ min: 1, integer: true })),
    publish_masks: new Field<'always' | 'on_anomaly' | 'never'>('on_anomaly', oneOf(['always', 'on_anomaly', 'never'] as const), TEXT),
    result_rate_hz: new Field(2, number({ minExclusive: 0 })),
    event_update_interval_s: new Field(1, number({ min: 0 })),
  }),
  retune: new Section({
    cron: new Field<string | null>('0 3 * * *', cron, NULLABLE_TEXT),
    min_normals: new Field(16, number({ min: 1, integer: true })),
    max_normals: new Field(256, number({ min: 1, integer: true })),
    steps: new Field(300, number({ min: 1, integer: true })),
    min_interval_s: new Field(600, number({ min: 0 })),
    sample_interval_s: new Field(5, number({ min: 0 })),
  }),
  http: new Section({
    enabled: new Field(true, bool),
    host: new Field('127.0.0.1', host, TEXT),
    port: new Field(8080, port),
    allowed_hosts: new Field<string[]>([], hostList),
  }),
});

/** Checks between keys, run once every key is valid on its own. */
function crossChecks(c: AgentConfig): [Segment[], string][] {
  const problems: [Segment[], string][] = [];
  if (c.retune.max_normals < c.retune.min_normals) {
    problems.push([['retune', 'max_normals'], `must be >= retune.min_normals (${c.retune.min_normals})`]);
  }
  const tls = c.mqtt.url.startsWith('mqtts:') || c.mqtt.url.startsWith('wss:');
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (c.mqtt[k] !== null && !tls) problems.push([['mqtt', k], 'TLS files need an mqtts:// or wss:// url']);
  }
  if ((c.mqtt.cert === null) !== (c.mqtt.key === null)) {
    problems.push([['mqtt', c.mqtt.cert === null ? 'cert' : 'key'], 'mqtt.cert and mqtt.key go together']);
  }
  for (const [name, cam] of Object.entries(c.cameras)) {
    if (cam.watchdog_s * cam.fps < 2) {
      problems.push([['cameras', name, 'watchdog_s'], `must span at least two frame intervals (>= ${2 / cam.fps} s at ${cam.fps} fps)`]);
    }
  }
  const envNames = new Map<string, string>();
  for (const name of Object.keys(c.cameras)) {
    const envName = camerasSchema.envName(name);
    const other = envNames.get(envName);
    if (other !== undefined) {
      problems.push([['cameras', name], `clashes with camera '${other}' in environment variable names (LINEWATCH_CAMERAS_${envName}_*)`]);
    }
    envNames.set(envName, name);
  }
  if (c.mqtt.password !== null && c.mqtt.username === null) {
    problems.push([['mqtt', 'username'], 'required when mqtt.password is set']);
  }
  return problems;
}

// ---- validation walk ----------------------------------------------------------------------------

const formatPath = (segs: Segment[]): string =>
  segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');

interface Walk {
  problems: [Segment[], string][];
  /** Paths whose value came from the environment, with the variable name. */
  fromEnv: Map<string, string>;
  fileDir: string;
}

function validateNode(node: Node<unknown>, value: unknown, segs: Segment[], walk: Walk): unknown {
  if (node instanceof Field) {
    if (value === undefined) {
      if (node.dflt === REQUIRED) {
        walk.problems.push([segs, 'required']);
        return undefined;
      }
      value = node.dflt; // defaults go through the same check, so that e.g. relative paths resolve
    }
    const baseDir = walk.fromEnv.has(formatPath(segs)) ? process.cwd() : walk.fileDir;
    const r = node.check(value, { baseDir });
    if (r.ok) return r.value;
    walk.problems.push([segs, r.error]);
    return undefined;
  }
  if (value !== undefined && value !== null && !isPlainObject(value)) {
    walk.problems.push([segs, `must be a mapping (got ${show(value)})`]);
    return undefined;
  }
  const obj = value ?? {};
  if (node instanceof MapOf) {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(obj)) {
      const bad = node.checkKey(key);
      if (bad) walk.problems.push([[...segs, key], bad]);
      else out[key] = validateNode(node.entry, entry, [...segs, key], walk);
    }
    return out;
  }
  const shape = (node as Section<Record<string, unknown>>).shape;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    if (!(key in shape)) walk.problems.push([[...segs, key], unknownKeyReason(key, Object.keys(shape))]);
  }
  for (const [key, child] of Object.entries(shape)) {
    out[key] = validateNode(child as Node<unknown>, obj[key], [...segs, key], walk);
  }
  return out;
}

function unknownKeyReason(key: string, known: string[]): string {
  const close = known.find((k) => editDistance(k, key) <= 2);
  return close ? `unknown key (did you mean '${close}'?)` : `unknown key (known: ${known.join(', ')})`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

// ---- environment overrides ----------------------------------------------------------------------

const ENV_PREFIX = 'LINEWATCH_';

interface EnvTarget {
  segs: string[];
  field: Field<unknown>;
}

/** Every environment variable name that configures a key, for the cameras present in `raw`. */
function envTargets(raw: Record<string, unknown>): Map<string, EnvTarget> {
  const targets = new Map<string, EnvTarget>();
  const visit = (node: Node<unknown>, segs: string[], name: string[]) => {
    if (node instanceof Field) targets.set(ENV_PREFIX + name.join('_').toUpperCase(), { segs, field: node });
    else if (node instanceof MapOf) {
      const entries = segs.reduce<unknown>((o, s) => (isPlainObject(o) ? o[s] : undefined), raw);
      for (const key of isPlainObject(entries) ? Object.keys(entries) : []) {
        visit(node.entry, [...segs, key], [...name, node.envName(key)]);
      }
    } else {
      for (const [key, child] of Object.entries((node as Section<Record<string, unknown>>).shape)) {
        visit(child as Node<unknown>, [...segs, key], [...name, key]);
      }
    }
  };
  visit(schema as Node<unknown>, [], []);
  return targets;
}

/** Variable-name prefixes owned by the configuration: a variable under them that names no key is a mistake. */
const ownedEnvPrefixes = (): string[] =>
  Object.entries(schema.shape).map(([key, node]) => ENV_PREFIX + key.toUpperCase() + (node instanceof Field ? '' : '_'));

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, walk: Walk): void {
  const targets = envTargets(raw);
  const owned = ownedEnvPrefixes();
  for (const [name, text] of Object.entries(env)) {
    if (text === undefined || !name.startsWith(ENV_PREFIX)) continue;
    const target = targets.get(name);
    if (!target) {
      if (owned.some((p) => (p.endsWith('_') ? name.startsWith(p) : name === p))) {
        walk.problems.push([[name], 'environment variable names no configuration key (camera keys only for cameras in the file)']);
      }
      continue;
    }
    const value = parseEnvValue(text, target.field);
    if (!value.ok) {
      walk.problems.push([[name], value.error]);
      continue;
    }
    setIn(raw, target.segs, value.value);
    walk.fromEnv.set(formatPath(target.segs), name);
  }
}

function parseEnvValue(text: string, field: Field<unknown>): Result<unknown> {
  if (field.envText) return ok(field.envText.nullable && (text === '' || text === 'null') ? null : text);
  try {
    return ok(YAML.parse(text));
  } catch (e) {
    return err(`value is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

function setIn(obj: Record<string, unknown>, segs: string[], value: unknown): void {
  let cur = obj;
  for (const s of segs.slice(0, -1)) {
    if (!isPlainObject(cur[s])) cur[s] = {};
    cur = cur[s] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]] = value;
}

// ---- entry point --------------------------------------------------------------------------------

/**
 * Reads, overrides from `env` and validates a configuration file. On failure the error holds
 * every problem, one per line: `key.path: reason` (plus the YAML line or the environment variable).
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Result<AgentConfig> {
  let textContent: string;
  try {
    textContent = readFileSync(file, 'utf8');
  } catch (e) {
    return err(`${file}: cannot read configuration: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(textContent, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return err(
      doc.errors
        .map((e) => {
          const at = lineCounter.linePos(e.pos[0]);
          return `${file}:${at.line}:${at.col}: ${e.message.split('\n')[0]}`;
        })
        .join('\n'),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (!isPlainObject(raw)) return err(`${file}: the configuration must be a YAML mapping of keys`);

  const walk: Walk = { problems: [], fromEnv: new Map(), fileDir: path.dirname(path.resolve(file)) };
  applyEnv(raw, env, walk);
  const value = validateNode(schema as Node<unknown>, raw, [], walk) as AgentConfig;
  if (walk.problems.length === 0) walk.problems.push(...crossChecks(value));
  if (walk.problems.length === 0) return ok(value);

  const where = (segs: Segment[]): string => {
    const envName = walk.fromEnv.get(formatPath(segs));
    if (envName) return ` (from ${envName})`;
    const node = doc.getIn(segs, true) as { range?: [number, number, number] } | undefined;
    const at = node?.range ? node.range[0] : keyOffset(doc, segs);
    return at === undefined ? '' : ` (${path.basename(file)} line ${lineCounter.linePos(at).line})`;
  };
  return err(walk.problems.map(([segs, reason]) => `${formatPath(segs)}: ${reason}${where(segs)}`).join('\n'));
}

/** Offset of the key node for `segs` (used when the value is absent, e.g. `key:` with no value). */
function keyOffset(doc: YAML.Document, segs: Segment[]): number | undefined {
  const parent = doc.getIn(segs.slice(0, -1), true);
  if (!YAML.isMap(parent)) return undefined;
  const pair = parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === segs[segs.length - 1]);
  return YAML.isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
}

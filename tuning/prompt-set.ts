// A prompt set: what tuning produced, in `<id>.json` of a prompt store. Keys as DESIGN.md lists
// them (id, created, bundle, tokens, text_embeds, calibration, metrics, config, data) plus
// `status` (accepted / rejected by the gate) and `reasons` (why it was rejected). The shape is one
// JSON Schema with the `PromptSet` type derived from it; the store and `eval --prompts` read
// files through `validatePromptSet`.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import Type, { type Static } from 'typebox';
import { err, ok, type Result } from '../util/result.ts';
import { compileSchema, explainProblems } from '../util/schema.ts';
import type { Calibration } from './calibration.ts';
import type { PromptTokens } from './prompt-learner.ts';

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const finite = Type.Number();
const matrix = Type.Array(Type.Array(finite));
const openObject = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });

export const PromptSetStatus = Type.Enum(['accepted', 'rejected']);
export type PromptSetStatus = Static<typeof PromptSetStatus>;

/** The shape of `<id>.json`; what the shape cannot say (equal widths, max > min) is in `ruleProblem`. */
export const PromptSet = Type.Object(
  {
    id: Type.String({ pattern: idPattern.source, description: 'file-name-safe' }),
    /** ISO 8601 */
    created: Type.String(),
    status: PromptSetStatus,
    /** Empty for an accepted set (absent in files written before it existed). */
    reasons: Type.Array(Type.String()),
    /** The bundle the set was tuned for; a set only fits that bundle. */
    bundle: Type.Object({ id: Type.String(), sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false }),
    /** The learned token embeddings, one array of W numbers per token. */
    tokens: Type.Object({ shared: matrix, normal: matrix, anomalous: matrix }, { additionalProperties: false }),
    /** [2][E]: normal, then anomalous. */
    text_embeds: matrix,
    calibration: Type.Object({ min: finite, max: finite, threshold: finite, targetFpr: finite }, { additionalProperties: false }),
    metrics: Type.Record(Type.String(), finite),
    /**
     * The patch-memory scorer's bank (absent for prompt-only sets): its sidecar file beside the
     * set (tuning/memory-bank-file.ts) with the file's sha256, the bank's layers (block numbers)
     * and rows per layer, the coreset limit it was built under, and the memory score's own
     * calibration on the held-out normals.
     */
    memory: Type.Optional(
      Type.Object(
        {
          file: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'a file name in the same store' }),
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          layers: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1 }),
          patches: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1 }),
          max_patches: Type.Integer({ minimum: 1 }),
          coreset: Type.Boolean(),
          calibration: Type.Object({ min: finite, max: finite, threshold: finite, targetFpr: finite }, { additionalProperties: false }),
        },
        { additionalProperties: false },
      ),
    ),
    /** Tuning settings (steps, seed, lambda, ...). */
    config: openObject('tuning settings'),
    /** What it was tuned on (image counts, sources, ...). */
    data: openObject('what it was tuned on'),
  },
  { additionalProperties: false },
);
export type PromptSet = Static<typeof PromptSet>;
// The calibration key is what tuning/calibration.ts computes; both must describe the same object.
const calibrationFits: Calibration extends PromptSet['calibration'] ? (PromptSet['calibration'] extends Calibration ? true : false) : false = true;
void calibrationFits;

const promptSetSchema = compileSchema(PromptSet);
const KEYS: readonly (string | number | undefined)[] = Object.keys(PromptSet.properties);
const keyOrder = (key: string | number | undefined) => (KEYS.includes(key) ? KEYS.indexOf(key) : KEYS.length);

/** A file-name-safe id that sorts by creation time: 20250102T030405678Z-1a2b3c. */
export function newPromptSetId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

export function isPromptSetId(id: string): boolean {
  return idPattern.test(id);
}

/** The token rows of learned prompt tokens, for the `tokens` key. */
export function tokenRows(tokens: PromptTokens): PromptSet['tokens'] {
  const { shared: n, state: m, width: W } = tokens.layout;
  const rows = (first: number, count: number) =>
    Array.from({ length: count }, (_, i) => Array.from(tokens.params.subarray((first + i) * W, (first + i + 1) * W)));
  return { shared: rows(0, n), normal: rows(n, m), anomalous: rows(n + m, m) };
}

/** text_embeds [2,E] as the flat Float32Array the vision graph takes. */
export function textEmbedsOf(set: PromptSet): Float32Array {
  return Float32Array.from(set.text_embeds.flat());
}

/** text_embeds rows from a flat [2,E] array. */
export function textEmbedRows(text: ArrayLike<number>): number[][] {
  const E = text.length / 2;
  return [Array.from({ length: E }, (_, e) => text[e]), Array.from({ length: E }, (_, e) => text[E + e])];
}

/** What the schema cannot say about a set of the right shape, as `[key, why]`, or null. */
function ruleProblem(set: PromptSet): [string, string] | null {
  if (Number.isNaN(Date.parse(set.created))) return ['created', 'must be an ISO 8601 date'];
  let width = -1;
  for (const g of ['shared', 'normal', 'anomalous'] as const) {
    for (const row of set.tokens[g]) {
      if (width === -1) width = row.length;
      if (row.length !== width || width === 0) return [`tokens.${g}`, `has a token of width ${row.length}, others have ${width}`];
    }
  }
  const { normal, anomalous } = set.tokens;
  if (normal.length === 0 || normal.length !== anomalous.length) {
    return ['tokens', `needs as many normal as anomalous state tokens (at least 1), got ${normal.length} and ${anomalous.length}`];
  }
  const [n, a] = set.text_embeds;
  if (set.text_embeds.length !== 2 || n.length === 0 || n.length !== a.length)
    return ['text_embeds', 'must be 2 rows (normal, anomalous) of E finite numbers each'];
  if (!(set.calibration.max > set.calibration.min)) return ['calibration', 'must have max > min'];
  if (set.memory) {
    if (set.memory.patches.length !== set.memory.layers.length)
      return ['memory', `lists ${set.memory.patches.length} patch counts for ${set.memory.layers.length} layers`];
    if (!(set.memory.calibration.max > set.memory.calibration.min)) return ['memory.calibration', 'must have max > min'];
  }
  return null;
}

/** Checks a parsed `<id>.json`; errors name `file` and every offending key. */
export function validatePromptSet(json: unknown, file: string): Result<PromptSet> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return err(`${file}: not a JSON object`);
  // sets written before `reasons` existed have none
  const withDefaults = Object.hasOwn(json, 'reasons') ? json : { ...json, reasons: [] };
  const shape = promptSetSchema.check(withDefaults);
  if (!shape.ok) {
    // in the order of the file's keys, rather than ajv's (every missing key first)
    const problems = [...shape.error].sort((a, b) => keyOrder(a.path[0]) - keyOrder(b.path[0]));
    return err(`${file}: ${explainProblems(problems, withDefaults, (key, why) => `key '${key}' ${why}`).join('; ')}`);
  }
  const rule = ruleProblem(shape.value);
  return rule ? err(`${file}: key '${rule[0]}' ${rule[1]}`) : ok(shape.value);
}

/** A file's text, or why it cannot be had. */
export async function readTextFile(file: string): Promise<Result<string>> {
  try {
    return ok(await fs.readFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return err(code === 'ENOENT' ? `${file} does not exist` : `${file}: cannot be read (${code ?? (e as Error).message})`);
  }
}

/** Reads and validates one prompt set file. */
export async function readPromptSetFile(file: string): Promise<Result<PromptSet>> {
  const text = await readTextFile(file);
  if (!text.ok) return text;
  let json: unknown;
  try {
    json = JSON.parse(text.value);
  } catch (e) {
    return err(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return validatePromptSet(json, file);
}

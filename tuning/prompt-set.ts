// A prompt set: what tuning produced, in `<id>.json` of a prompt store. Keys as DESIGN.md lists
// them (id, created, bundle, tokens, text_embeds, calibration, metrics, config, data) plus
// `status` (accepted / rejected by the gate) and `reasons` (why it was rejected).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { err, ok, type Result } from '../util/result.ts';
import type { Calibration } from './calibration.ts';
import type { PromptTokens } from './prompt-learner.ts';

export type PromptSetStatus = 'accepted' | 'rejected';

export interface PromptSet {
  id: string;
  /** ISO 8601 */
  created: string;
  status: PromptSetStatus;
  /** Empty for an accepted set. */
  reasons: string[];
  /** The bundle the set was tuned for; a set only fits that bundle. */
  bundle: { id: string; sha256: string };
  /** The learned token embeddings, one array of W numbers per token. */
  tokens: { shared: number[][]; normal: number[][]; anomalous: number[][] };
  /** [2][E]: normal, then anomalous. */
  text_embeds: number[][];
  calibration: Calibration;
  metrics: Record<string, number>;
  /** Tuning settings (steps, seed, lambda, ...). */
  config: Record<string, unknown>;
  /** What it was tuned on (image counts, sources, ...). */
  data: Record<string, unknown>;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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
  const rows = (first: number, count: number) => Array.from({ length: count }, (_, i) => Array.from(tokens.params.subarray((first + i) * W, (first + i + 1) * W)));
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

/** Checks a parsed `<id>.json`; errors name `file` and the offending key. */
export function validatePromptSet(json: unknown, file: string): Result<PromptSet> {
  const bad = (key: string, why: string) => err<PromptSet>(`${file}: key '${key}' ${why}`);
  if (!isObject(json)) return err(`${file}: not a JSON object`);
  const o = json;
  if (typeof o.id !== 'string' || !isPromptSetId(o.id)) return bad('id', 'must be a file-name-safe string');
  if (typeof o.created !== 'string' || Number.isNaN(Date.parse(o.created))) return bad('created', 'must be an ISO 8601 date');
  if (o.status !== 'accepted' && o.status !== 'rejected') return bad('status', "must be 'accepted' or 'rejected'");
  const reasons = o.reasons ?? [];
  if (!Array.isArray(reasons) || !reasons.every((r) => typeof r === 'string')) return bad('reasons', 'must be a list of strings');
  if (!isObject(o.bundle) || typeof o.bundle.id !== 'string' || typeof o.bundle.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.bundle.sha256)) {
    return bad('bundle', 'must be { id: string, sha256: 64 lowercase hex digits }');
  }
  if (!isObject(o.tokens)) return bad('tokens', 'must be { shared, normal, anomalous } lists of token embeddings');
  const groups = ['shared', 'normal', 'anomalous'] as const;
  let width = -1;
  for (const g of groups) {
    const rows = o.tokens[g];
    if (!isMatrix(rows)) return bad(`tokens.${g}`, 'must be a list of equal-length lists of finite numbers');
    for (const row of rows) {
      if (width === -1) width = row.length;
      if (row.length !== width || width === 0) return bad(`tokens.${g}`, `has a token of width ${row.length}, others have ${width}`);
    }
  }
  const tokens = o.tokens as PromptSet['tokens'];
  if (tokens.normal.length === 0 || tokens.normal.length !== tokens.anomalous.length) {
    return bad('tokens', `needs as many normal as anomalous state tokens (at least 1), got ${tokens.normal.length} and ${tokens.anomalous.length}`);
  }
  if (!isMatrix(o.text_embeds) || o.text_embeds.length !== 2 || o.text_embeds[0].length === 0 || o.text_embeds[0].length !== o.text_embeds[1].length) {
    return bad('text_embeds', 'must be 2 rows (normal, anomalous) of E finite numbers each');
  }
  const c = o.calibration;
  if (!isObject(c) || !['min', 'max', 'threshold', 'targetFpr'].every((k) => Number.isFinite(c[k])) || !((c.max as number) > (c.min as number))) {
    return bad('calibration', 'must be { min, max, threshold, targetFpr } finite numbers with max > min');
  }
  if (!isObject(o.metrics) || !Object.values(o.metrics).every((v) => Number.isFinite(v))) return bad('metrics', 'must be an object of finite numbers');
  if (!isObject(o.config)) return bad('config', 'must be an object');
  if (!isObject(o.data)) return bad('data', 'must be an object');
  return ok({ ...(o as unknown as PromptSet), reasons: reasons as string[] });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isMatrix(v: unknown): v is number[][] {
  return Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every((x) => Number.isFinite(x)));
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

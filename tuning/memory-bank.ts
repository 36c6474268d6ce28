// The patch memory: per selected layer, the L2-normalised patch embeddings of the normal shots.
// Every patch of every shot is kept unless a layer's bank exceeds `maxPatches`; then PatchCore's
// greedy coreset (coreset.ts) picks maxPatches of them. Below the limit nothing is subsampled:
// with a few shots every patch is worth its cost (WinCLIP+ keeps them all).
import { greedyCoreset } from './coreset.ts';

/** The default of `memory.max_patches`: per layer, 16 shots of a 14 x 14 grid are 3,136. */
export const DEFAULT_MAX_PATCHES = 20_000;

export interface MemoryBank {
  /** E */
  embedDim: number;
  /** Per selected layer (in patch_embeds order), [M_k, E] unit rows. */
  layers: Float32Array[];
}

export interface PatchLayout {
  /** K: layers in patch_embeds. */
  layers: number;
  /** N: patches per image. */
  patches: number;
  /** E */
  embedDim: number;
}

export interface BankOptions {
  maxPatches: number;
  /** Seeds the coreset's projection and start (one stream per layer). */
  seed: number;
}

export interface BuiltBank {
  bank: MemoryBank;
  /** Whether any layer was subsampled. */
  coreset: boolean;
}

/** The bank of `images` (indices into `patchEmbeds` [count,K,N,E]). */
export function buildMemoryBank(patchEmbeds: Float32Array, images: number[], layout: PatchLayout, options: BankOptions): BuiltBank {
  const { layers: K, patches: N, embedDim: E } = layout;
  if (images.length === 0) throw new RangeError('a memory bank needs at least one normal image');
  if (!(Number.isInteger(options.maxPatches) && options.maxPatches >= 1))
    throw new RangeError(`max_patches must be a whole number >= 1, got ${options.maxPatches}`);
  let coreset = false;
  const layers = Array.from({ length: K }, (_, k) => {
    const all = new Float32Array(images.length * N * E);
    images.forEach((img, i) => all.set(patchEmbeds.subarray((img * K + k) * N * E, ((img * K + k) * N + N) * E), i * N * E));
    normaliseRows(all, E);
    if (images.length * N <= options.maxPatches) return all;
    coreset = true;
    const keep = greedyCoreset(all, E, options.maxPatches, options.seed * 1009 + k);
    const kept = new Float32Array(keep.length * E);
    keep.forEach((row, i) => kept.set(all.subarray(row * E, (row + 1) * E), i * E));
    return kept;
  });
  return { bank: { embedDim: E, layers }, coreset };
}

/**
 * Divides each row by its L2 norm (as the graph's l2Normalise: a zero row stays zero). memory.onnx
 * takes the bank as it is, so every bank it is fed must have been through this.
 */
export function normaliseRows(rows: Float32Array, width: number): void {
  for (let o = 0; o < rows.length; o += width) {
    const norm = Math.max(rowNorm(rows, o, width), 1e-12);
    for (let j = 0; j < width; j++) rows[o + j] /= norm;
  }
}

/** The L2 norm of the row of `width` values at offset `o`. */
function rowNorm(rows: Float32Array, o: number, width: number): number {
  let s = 0;
  for (let j = 0; j < width; j++) s += rows[o + j] * rows[o + j];
  return Math.sqrt(s);
}

/** How far a row's L2 norm may be from 1 (float32 rounding of a normalised row is ~1e-7). */
const UNIT_TOLERANCE = 1e-4;

/** The first row of `rows` that is neither of unit length nor zero (as normaliseRows leaves them), or null. */
export function nonUnitRow(rows: Float32Array, width: number): { row: number; norm: number } | null {
  for (let o = 0; o < rows.length; o += width) {
    const norm = rowNorm(rows, o, width);
    if (norm !== 0 && Math.abs(norm - 1) > UNIT_TOLERANCE) return { row: o / width, norm };
  }
  return null;
}

/** Rows per layer. */
export function bankSizes(bank: MemoryBank): number[] {
  return bank.layers.map((l) => l.length / bank.embedDim);
}

/**
 * The graph's `memory_bank` input [K,M,E], M the longest layer: shorter layers are padded with
 * copies of their first row, which cannot change a maximum similarity.
 */
export function packBank(bank: MemoryBank): { data: Float32Array; rows: number } {
  const E = bank.embedDim;
  const rows = Math.max(...bankSizes(bank));
  const data = new Float32Array(bank.layers.length * rows * E);
  bank.layers.forEach((layer, k) => {
    if (layer.length === 0) throw new RangeError(`memory bank layer ${k} is empty`);
    const base = k * rows * E;
    data.set(layer, base);
    for (let r = layer.length / E; r < rows; r++) data.set(layer.subarray(0, E), base + r * E);
  });
  return { data, rows };
}

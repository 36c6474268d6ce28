// PatchCore's greedy coreset (Roth et al. 2022, "Towards Total Recall", approximate greedy
// k-center as in amazon-science/patchcore-inspection): rows are mapped by a seeded Gaussian random
// projection to PROJECTION_DIM dimensions (Johnson-Lindenstrauss: distances roughly kept, far
// cheaper), a seeded random row starts the selection, and each next row is the one farthest from
// everything selected so far (minimum distances updated incrementally). The result covers the
// bank's feature space with few rows, which keeps outlying normal patches that uniform sampling
// would drop. Deterministic for a seed.
import { createRng } from './rng.ts';

/** PatchCore's projection size. */
export const PROJECTION_DIM = 128;

/**
 * Indices (ascending) of `target` rows of `rows` ([count, width], row-major) chosen greedily;
 * every index when count <= target.
 */
export function greedyCoreset(rows: Float32Array, width: number, target: number, seed: number): Int32Array {
  const count = rows.length / width;
  if (!Number.isInteger(count)) throw new RangeError(`coreset: ${rows.length} values are not rows of width ${width}`);
  if (!(Number.isInteger(target) && target >= 1)) throw new RangeError(`coreset: target must be a whole number >= 1, got ${target}`);
  if (count <= target) return Int32Array.from({ length: count }, (_, i) => i);
  const rng = createRng(seed);
  const projected = project(rows, count, width, Math.min(PROJECTION_DIM, width), rng.normal);
  const d = projected.length / count;
  const minDistance = new Float64Array(count).fill(Infinity);
  const chosen = new Int32Array(target);
  let last = rng.int(count);
  for (let c = 0; c < target; c++) {
    chosen[c] = last;
    minDistance[last] = -1; // never chosen twice
    let far = -1;
    let farDistance = -Infinity;
    const base = last * d;
    for (let i = 0; i < count; i++) {
      if (minDistance[i] < 0) continue;
      let s = 0;
      for (let j = 0, o = i * d; j < d; j++) {
        const diff = projected[o + j] - projected[base + j];
        s += diff * diff;
      }
      if (s < minDistance[i]) minDistance[i] = s;
      if (minDistance[i] > farDistance) (farDistance = minDistance[i]), (far = i);
    }
    last = far;
  }
  return chosen.sort();
}

/** rows [count,width] @ a Gaussian matrix [width,dim] scaled by 1/sqrt(dim). */
function project(rows: Float32Array, count: number, width: number, dim: number, normal: () => number): Float32Array {
  const matrix = Float32Array.from({ length: width * dim }, () => normal() / Math.sqrt(dim));
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < width; k++) {
      const v = rows[i * width + k];
      if (v === 0) continue;
      const m = k * dim;
      const o = i * dim;
      for (let j = 0; j < dim; j++) out[o + j] += v * matrix[m + j];
    }
  }
  return out;
}

// How far one output tensor is from another of the same shape: the measures `model check` holds
// bundles to, and that `bench:model` prints for an int8 bundle against its float32 twin.

export interface TensorDifference {
  /** max |a - b|; Infinity when the lengths differ or a value is NaN. */
  maxAbs: number;
  /** max |a - b| / max |b|. */
  maxRel: number;
  /** Over rows (vectors of the last axis): the lowest and the mean cosine similarity; two zero rows count as equal (1). */
  minCosine: number;
  meanCosine: number;
}

export function tensorDifference(actual: ArrayLike<number>, expected: ArrayLike<number>, rowLength: number): TensorDifference {
  if (actual.length !== expected.length) return { maxAbs: Infinity, maxRel: Infinity, minCosine: -1, meanCosine: -1 };
  let [maxAbs, scale] = [0, 0];
  let [minCosine, cosineSum, rows] = [1, 0, 0];
  for (let start = 0; start < expected.length; start += rowLength) {
    let [dot, na, nb] = [0, 0, 0];
    for (let i = start; i < start + rowLength; i++) {
      const [a, b] = [actual[i], expected[i]];
      const d = Math.abs(a - b);
      maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
      scale = Math.max(scale, Math.abs(b));
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    const raw = na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
    const cosine = Number.isNaN(raw) ? -1 : raw;
    minCosine = Math.min(minCosine, cosine);
    cosineSum += cosine;
    rows++;
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs, minCosine, meanCosine: rows ? cosineSum / rows : 1 };
}

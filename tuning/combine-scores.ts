// The one rule that turns the maps of the scorers in use into the map and scale the decision is
// taken on: the agent's detector (agent/scoring/combine.ts), the tuning gate
// (held-out-judgement.ts) and eval's `--scorer both` all call combineScorerMaps, so the gate
// judges exactly what the agent publishes.
//
// One scorer alone is not rescaled: its raw map and its own calibration, as before a second
// scorer existed. With several, each map is put on its own calibrated 0..1 scale (normaliseScore
// with that scorer's calibration, clipped to [0, 1]), then the scaled maps are averaged pixel by
// pixel with equal weights, and the result is judged on the identity scale. Calibrating first
// keeps either scorer from dominating by scale (a prompt probability near 0.5, a memory distance
// near 0.05).
//
// The combined threshold is the scorers' thresholds averaged by the very arithmetic that
// averages a pixel (float32 accumulation, in the same order). Float32 rounding is monotone, so a
// pixel is above the combined threshold only where some scorer is above its own, and a pixel
// where every scorer sits exactly at its threshold is not above it. A mean taken in float64 can
// lie just below the rounded float32 sum and flag such a pixel.
import { normaliseScore, type ScoreScale } from './calibration.ts';

export interface ScaledMap {
  map: Float32Array;
  scale: ScoreScale;
}

/** The map the detector judges and the scale it judges it on. */
export interface CombinedMap {
  map: Float32Array;
  scale: ScoreScale;
}

export function combineScorerMaps(parts: readonly ScaledMap[]): CombinedMap {
  if (parts.length === 0) throw new RangeError('combining needs at least one map');
  if (parts.length === 1) return { map: parts[0].map, scale: parts[0].scale };
  const length = parts[0].map.length;
  if (parts.some((p) => p.map.length !== length)) throw new RangeError(`maps differ in size: ${parts.map((p) => p.map.length).join(' vs ')}`);
  const map = equalWeightMean(length, parts.length, (k, i) => normaliseScore(parts[k].map[i], parts[k].scale));
  const [threshold] = equalWeightMean(1, parts.length, (k) => parts[k].scale.threshold);
  return { map, scale: { min: 0, max: 1, threshold } };
}

/** Per cell i, the mean over k of value(k, i), accumulated in float32 scorer by scorer. */
function equalWeightMean(length: number, count: number, value: (k: number, i: number) => number): Float32Array {
  const mean = new Float32Array(length);
  for (let k = 0; k < count; k++) {
    for (let i = 0; i < length; i++) mean[i] += value(k, i) / count;
  }
  return mean;
}

export function mapMax(map: Float32Array): number {
  let m = -Infinity;
  for (const v of map) if (v > m) m = v;
  return m;
}

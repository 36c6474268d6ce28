// The rule that combines the prompt and memory scorers' maps into one (eval's `--scorer both`):
// each map is put on its own calibrated 0..1 scale (normaliseScore with that scorer's
// calibration, clipped to [0, 1]), then the scaled maps are averaged pixel by pixel with equal
// weights; the image score is the combined map's maximum. Calibrating first keeps either scorer
// from dominating by scale (a prompt probability near 0.5, a memory distance near 0.05). The
// agent's detector combines through this function too (agent/scoring/combine.ts).
import { normaliseScore, type ScoreScale } from './calibration.ts';

export interface ScaledMap {
  map: Float32Array;
  scale: ScoreScale;
}

export function combineMaps(parts: ScaledMap[]): Float32Array {
  if (parts.length === 0) throw new RangeError('combining needs at least one map');
  const length = parts[0].map.length;
  if (parts.some((p) => p.map.length !== length)) throw new RangeError(`maps differ in size: ${parts.map((p) => p.map.length).join(' vs ')}`);
  const combined = new Float32Array(length);
  for (const { map, scale } of parts) {
    for (let i = 0; i < length; i++) combined[i] += normaliseScore(map[i], scale) / parts.length;
  }
  return combined;
}

export function mapMax(map: Float32Array): number {
  let m = -Infinity;
  for (const v of map) if (v > m) m = v;
  return m;
}

// What the gate judges a prompt set by: its scorers' maps on the held-out images, combined as the
// agent will combine them (combineScorerMaps), so the accepted set is judged on exactly what the
// agent publishes.
//
// Each scorer is first calibrated on its own image scores (calibration normals and held-out
// anomalies; threshold from the normals only), which puts its maps on its 0..1 scale. The
// combined map of an image is then combineScorerMaps of those maps, its score the map's maximum,
// and its decision that score against the combined threshold, the agent's rule. The combined
// score needs no calibration of its own: its scale and threshold follow from the scorers'
// calibrations, made on the calibration normals alone, so the gate normals stay unseen. Metrics:
// AUROC on all held-out images, false-positive rate on the gate normals, true-positive rate on
// the anomalies. With one scorer the combination is that scorer as it is.
import { err, ok, type Result } from '../util/result.ts';
import { type Calibration, calibrate, normaliseScore, type ScoreScale } from './calibration.ts';
import { combineScorerMaps, mapMax } from './combine-scores.ts';
import type { GateMetrics } from './gate.ts';
import { imageMetrics } from './metrics.ts';

/** The held-out images, in this order: calibration normals, gate normals, anomalies. */
export interface HeldOutCounts {
  calibration: number;
  gate: number;
  anomalies: number;
}

/** One scorer on the held-out images (in HeldOutCounts order). */
export interface HeldOutMaps {
  /** [count, pixels], row-major per image. */
  maps: Float32Array;
  /** [count]: each image's raw score, the maximum of its map. */
  scores: Float32Array;
}

export interface Judged {
  gate: GateMetrics;
  syntheticTpr: number;
}

export interface ScorerJudgement extends Judged {
  calibration: Calibration;
}

/** One scorer alone: its calibration from the calibration normals and anomalies, and its metrics. */
export function judgeScorer(held: HeldOutMaps, counts: HeldOutCounts, targetFpr: number): Result<ScorerJudgement> {
  const total = counts.calibration + counts.gate + counts.anomalies;
  if (held.scores.length !== total) return err(`${held.scores.length} held-out scores for ${total} held-out images`);
  const normalsEnd = counts.calibration + counts.gate;
  const calibrated = calibrate(held.scores.subarray(0, counts.calibration), held.scores.subarray(normalsEnd), targetFpr);
  if (!calibrated.ok) return calibrated;
  const { calibration } = calibrated.value;
  const judged = judgeDecisions(held.scores, (s) => normaliseScore(s, calibration) > calibration.threshold, counts);
  return judged.ok ? ok({ ...judged.value, calibration }) : judged;
}

/** The scorers' maps combined per image with their calibrations, in the order the agent combines them. */
export function judgeCombined(parts: readonly { held: HeldOutMaps; scale: ScoreScale }[], counts: HeldOutCounts): Result<Judged> {
  if (parts.length === 0) return err('judging needs at least one scorer');
  const count = counts.calibration + counts.gate + counts.anomalies;
  const pixels = parts[0].held.maps.length / count;
  if (parts.some((p) => p.held.maps.length !== count * pixels) || !Number.isInteger(pixels))
    return err(`held-out maps of ${parts.map((p) => p.held.maps.length).join(' vs ')} values for ${count} images`);
  const combinedOf = (i: number) => combineScorerMaps(parts.map((p) => ({ map: p.held.maps.subarray(i * pixels, (i + 1) * pixels), scale: p.scale })));
  const scores = Float64Array.from({ length: count }, (_, i) => mapMax(combinedOf(i).map));
  // the combined scale depends on the scorers' scales alone: the same for every image
  const { scale } = combinedOf(0);
  return judgeDecisions(scores, (s) => normaliseScore(s, scale) > scale.threshold, counts);
}

function judgeDecisions(scores: ArrayLike<number>, anomalous: (score: number) => boolean, counts: HeldOutCounts): Result<Judged> {
  const normals = counts.calibration + counts.gate;
  const labels = Array.from(scores, (_, i) => (i < normals ? 0 : 1));
  const auroc = imageMetrics(Array.from(scores), labels);
  if (!auroc.ok) return auroc;
  const above = (from: number, to: number) => {
    let n = 0;
    for (let i = from; i < to; i++) if (anomalous(scores[i])) n++;
    return n / (to - from);
  };
  return ok({
    gate: { syntheticAuroc: auroc.value.auroc, normalFpr: above(counts.calibration, normals) },
    syntheticTpr: above(normals, scores.length),
  });
}

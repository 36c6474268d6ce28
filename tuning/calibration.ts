// Calibration of raw anomaly scores from held-out data: min/max normalisation over the held-out
// normal and synthetic-anomaly scores, and the threshold meant to keep the false-positive rate on
// normal frames at or below the target (default 0.5 %).
//
// With n normals and n * target >= 1 the threshold is the empirical quantile. With fewer (n < 200
// at 0.5 %) the empirical quantile is just the highest normal, and a new normal frame exceeds
// the highest of n with probability 1 / (n + 1): a threshold from 8 normals would flag one normal
// frame in 9. There the threshold is raised to the one-sided Gaussian prediction bound
//   mean + t(1 - target; n - 1) * sd * sqrt(1 + 1 / n),
// which a new normal score exceeds with probability exactly `target` when normal scores are
// Gaussian; it is wide for tiny n, which is the honest price of a 0.5 % target on few frames.
import { err, ok, type Result } from '../util/result.ts';
import { imageMetrics } from './metrics.ts';
import { studentTQuantile } from './student-t.ts';

/** How a raw anomaly score maps onto the published 0..1 scale, and where the decision lies on it. */
export interface ScoreScale {
  /** Raw score mapped to 0: the lowest held-out score. */
  min: number;
  /** Raw score mapped to 1: the highest held-out score. */
  max: number;
  /** On the normalised scale: a frame is anomalous when its normalised score is > threshold. */
  threshold: number;
}

export interface Calibration extends ScoreScale {
  targetFpr: number;
}

export interface CalibrationMetrics {
  /** AUROC of held-out normals vs held-out synthetic anomalies. */
  syntheticAuroc: number;
  /** Fraction of held-out normals above the threshold (<= targetFpr by construction). */
  normalFpr: number;
  /** Fraction of held-out synthetic anomalies above the threshold. */
  syntheticTpr: number;
  normals: number;
  anomalies: number;
}

export const defaultTargetFpr = 0.005;

/**
 * When the threshold lies above every held-out score, the normalised scale is stretched to
 * threshold + this fraction of (threshold - min): the agent clips normalised scores to [0, 1],
 * and a threshold at 1 could never be exceeded.
 */
export const thresholdHeadroom = 0.25;

/**
 * The published 0..1 score: (raw - min) / (max - min), clipped to [0, 1]; a degenerate scale
 * (max = min) is a step at min. Clipping changes no decision: the threshold lies in [0, 1).
 */
export function normaliseScore(raw: number, scale: ScoreScale): number {
  const x = scale.max > scale.min ? (raw - scale.min) / (scale.max - scale.min) : raw > scale.min ? 1 : 0;
  return Math.min(1, Math.max(0, x));
}

export function isAnomalous(raw: number, calibration: Calibration): boolean {
  return normaliseScore(raw, calibration) > calibration.threshold;
}

/**
 * The threshold is the (floor(targetFpr * n) + 1)-th highest normal score: at most
 * floor(targetFpr * n) normals lie strictly above it. With fewer than 1 / targetFpr normals
 * (200 at 0.5 %) that would be the highest normal score, and the Gaussian prediction bound above
 * is used where it is higher (n >= 2, targetFpr > 0).
 */
export function calibrate(
  normalScores: ArrayLike<number>,
  anomalyScores: ArrayLike<number>,
  targetFpr = defaultTargetFpr,
): Result<{ calibration: Calibration; metrics: CalibrationMetrics }> {
  if (!(targetFpr >= 0 && targetFpr < 1)) return err(`calibration: target false-positive rate must be in [0, 1), got ${targetFpr}`);
  const n = normalScores.length;
  const m = anomalyScores.length;
  if (n === 0 || m === 0) return err(`calibration needs held-out normal and synthetic anomaly scores, got ${n} normal and ${m} anomalous`);
  const normals = Float64Array.from(normalScores);
  const anomalies = Float64Array.from(anomalyScores);
  const auroc = imageMetrics([...normals, ...anomalies], [...new Array(n).fill(0), ...new Array(m).fill(1)]);
  if (!auroc.ok) return err(`calibration: ${auroc.error}`);
  let min = Infinity;
  let max = -Infinity;
  for (const s of [...normals, ...anomalies]) {
    min = Math.min(min, s);
    max = Math.max(max, s);
  }
  if (!(max > min)) return err(`calibration: all ${n + m} held-out scores are equal (${min}); the scores cannot separate anything`);
  normals.sort();
  const rawThreshold = rawNormalThreshold(normals, targetFpr);
  if (rawThreshold >= max) max = rawThreshold + thresholdHeadroom * (rawThreshold - min);
  const calibration: Calibration = { min, max, threshold: 0, targetFpr };
  calibration.threshold = normaliseScore(rawThreshold, calibration);
  const above = (scores: Float64Array) => scores.reduce((c, s) => c + (isAnomalous(s, calibration) ? 1 : 0), 0);
  return ok({
    calibration,
    metrics: { syntheticAuroc: auroc.value.auroc, normalFpr: above(normals) / n, syntheticTpr: above(anomalies) / m, normals: n, anomalies: m },
  });
}

/** The raw threshold for ascending normal scores (see the top of this file). */
function rawNormalThreshold(sorted: Float64Array, targetFpr: number): number {
  const n = sorted.length;
  const empirical = sorted[n - 1 - Math.floor(targetFpr * n)];
  if (Math.floor(targetFpr * n) > 0 || n < 2 || targetFpr === 0) return empirical;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return Math.max(empirical, mean + studentTQuantile(1 - targetFpr, n - 1) * sd * Math.sqrt(1 + 1 / n));
}

// Calibration of raw anomaly scores from held-out data: min/max normalisation over the held-out
// normal and synthetic-anomaly scores, and the threshold that keeps the false-positive rate on the
// held-out normals at or below the target (default 0.5 %).
import { err, ok, type Result } from '../util/result.ts';
import { imageMetrics } from './metrics.ts';

export interface Calibration {
  /** Raw score mapped to 0: the lowest held-out score. */
  min: number;
  /** Raw score mapped to 1: the highest held-out score. */
  max: number;
  /** On the normalised scale: a frame is anomalous when its normalised score is > threshold. */
  threshold: number;
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
 * Normalised score: (raw - min) / (max - min). Not clipped, so scores outside the held-out range
 * stay ordered (below 0 or above 1).
 */
export function normaliseScore(raw: number, calibration: Calibration): number {
  return (raw - calibration.min) / (calibration.max - calibration.min);
}

export function isAnomalous(raw: number, calibration: Calibration): boolean {
  return normaliseScore(raw, calibration) > calibration.threshold;
}

/**
 * The threshold is the (floor(targetFpr * n) + 1)-th highest normal score: at most
 * floor(targetFpr * n) normals lie strictly above it. With fewer than 1 / targetFpr normals
 * (200 at 0.5 %) that is the highest normal score.
 */
export function calibrate(normalScores: ArrayLike<number>, anomalyScores: ArrayLike<number>, targetFpr = defaultTargetFpr): Result<{ calibration: Calibration; metrics: CalibrationMetrics }> {
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
  const rawThreshold = normals[n - 1 - Math.floor(targetFpr * n)];
  const calibration: Calibration = { min, max, threshold: 0, targetFpr };
  calibration.threshold = normaliseScore(rawThreshold, calibration);
  const above = (scores: Float64Array) => scores.reduce((c, s) => c + (isAnomalous(s, calibration) ? 1 : 0), 0);
  return ok({
    calibration,
    metrics: { syntheticAuroc: auroc.value.auroc, normalFpr: above(normals) / n, syntheticTpr: above(anomalies) / m, normals: n, anomalies: m },
  });
}

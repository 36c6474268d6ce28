// Turning the model's raw anomaly score into the 0..1 score and the decision the agent publishes.
//
// A prompt set's calibration { min, max, threshold } maps raw scores linearly onto 0..1
// (min -> 0, max -> 1, clipped) and places the decision threshold on that normalised scale.
// `sensitivity` (0..1) moves the threshold, 0.5 leaving it where calibration put it (t):
//   sensitivity <= 0.5:  threshold = t + (1 - t) * (1 - 2 * sensitivity)   (0 -> 1: nothing is anomalous)
//   sensitivity >= 0.5:  threshold = t * (2 - 2 * sensitivity)             (1 -> 0: anything above min is)
// A score is anomalous when it is strictly above the threshold.

import { normaliseScore as linearScore, type ScoreScale } from '../../tuning/calibration.ts';

export type Calibration = ScoreScale;

/** The tuning scale, clipped to 0..1 for publishing; a degenerate scale (max = min) is a step. */
export function normaliseScore(raw: number, cal: Calibration): number {
  const x = cal.max > cal.min ? linearScore(raw, cal) : raw > cal.min ? 1 : 0;
  return Math.min(1, Math.max(0, x));
}

export function effectiveThreshold(cal: Calibration, sensitivity: number): number {
  const t = cal.threshold;
  return sensitivity <= 0.5 ? t + (1 - t) * (1 - 2 * sensitivity) : t * (2 - 2 * sensitivity);
}

// Where the agent's decision lies on the 0..1 score scale of a prompt set's calibration
// (tuning/calibration.ts: `ScoreScale`, `normaliseScore`).
//
// `sensitivity` (0..1) moves the calibrated threshold t, 0.5 leaving it where calibration put it:
//   sensitivity <= 0.5:  threshold = t + (1 - t) * (1 - 2 * sensitivity)   (0 -> 1: nothing is anomalous)
//   sensitivity >= 0.5:  threshold = t * (2 - 2 * sensitivity)             (1 -> 0: anything above min is)
// A score is anomalous when it is strictly above the threshold.

import type { ScoreScale } from '../../tuning/calibration.ts';

export function effectiveThreshold(scale: ScoreScale, sensitivity: number): number {
  const t = scale.threshold;
  return sensitivity <= 0.5 ? t + (1 - t) * (1 - 2 * sensitivity) : t * (2 - 2 * sensitivity);
}

// One frame's anomaly map -> what is published about it: raw and normalised score, decision,
// and where the anomalous region lies in camera pixels.

import { normaliseScore, type ScoreScale } from '../../tuning/calibration.ts';
import type { SourceGeometry } from '../camera/frame.ts';
import { effectiveThreshold } from './calibration.ts';
import { type Box, cellsToBox } from './geometry.ts';

export interface FrameVerdict {
  /** Max of the anomaly map after ignored cells were zeroed. */
  rawScore: number;
  /** rawScore normalised with the calibration, 0..1. */
  score: number;
  /** Effective threshold on the normalised scale (calibration + sensitivity). */
  threshold: number;
  anomalous: boolean;
  /** Camera-pixel box around every map cell whose normalised value is above the threshold; null when none. */
  bbox: Box | null;
}

export interface AnomalyMap {
  /** mapW * mapH values, row-major. */
  values: Float32Array;
  width: number;
  height: number;
}

/**
 * Zeroes the ignored cells of `map.values` in place (so a mask published afterwards shows them
 * blank), then scores the frame.
 */
export function judgeFrame(map: AnomalyMap, ignore: Uint8Array | null, source: SourceGeometry, cal: ScoreScale, sensitivity: number): FrameVerdict {
  const { values, width, height } = map;
  if (ignore) for (let k = 0; k < values.length; k++) if (ignore[k]) values[k] = 0;

  const threshold = effectiveThreshold(cal, sensitivity);
  let rawScore = -Infinity;
  let i0 = width,
    j0 = height,
    i1 = -1,
    j1 = -1;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const v = values[j * width + i];
      if (v > rawScore) rawScore = v;
      if (normaliseScore(v, cal) > threshold) {
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
      }
    }
  }
  const score = normaliseScore(rawScore, cal);
  return {
    rawScore,
    score,
    threshold,
    anomalous: score > threshold,
    bbox: i1 >= 0 ? cellsToBox(i0, j0, i1, j1, width, height, source) : null,
  };
}

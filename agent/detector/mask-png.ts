// The anomaly map as an 8-bit grey PNG: each value normalised with the prompt set's calibration
// (min -> 0, max -> 255), so the picture reads on the same scale as the published score.
import sharp from 'sharp';
import { normaliseScore, type ScoreScale } from '../../tuning/calibration.ts';
import type { AnomalyMap } from './frame-verdict.ts';

function maskToGrey(map: AnomalyMap, cal: ScoreScale): Uint8Array {
  const grey = new Uint8Array(map.values.length);
  for (let k = 0; k < grey.length; k++) grey[k] = Math.round(255 * normaliseScore(map.values[k], cal));
  return grey;
}

export async function encodeMaskPng(map: AnomalyMap, cal: ScoreScale): Promise<Buffer> {
  return sharp(maskToGrey(map, cal), { raw: { width: map.width, height: map.height, channels: 1 } })
    .toColourspace('b-w') // otherwise sharp writes one channel out as RGB
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}

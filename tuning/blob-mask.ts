// Random blob masks for synthetic anomalies: smooth value noise under a Gaussian window around a
// random object pixel, thresholded so the blob has a drawn target area. The noise gives irregular,
// sometimes multi-part outlines; the window keeps the blob in one place; the threshold is taken
// among object pixels only, so the blob never leaves the object.

import { valueNoise } from './image/value-noise.ts';
import type { Rng } from './rng.ts';

export interface BlobOptions {
  /** Blob sizes as fractions of the shorter image side (the window's sigma); one is drawn per blob. */
  scales: number[];
  /** Smallest blob, in pixels (fewer only when the object itself is smaller). */
  minPixels: number;
  /** Largest blob as a fraction of the object's area. */
  maxObjectFraction: number;
}

export const defaultBlobOptions: BlobOptions = { scales: [0.03, 0.06, 0.12], minPixels: 16, maxObjectFraction: 0.4 };

/** A blob inside `object` (non-zero = object pixel); `object` must have at least one pixel. */
export function blobMask(object: Uint8Array, width: number, height: number, rng: Rng, options: BlobOptions): Uint8Array {
  const objectPixels = countSet(object);
  if (objectPixels === 0) throw new RangeError('blobMask: the object mask is empty');
  const sigma = Math.max(1, options.scales[rng.int(options.scales.length)] * Math.min(width, height));
  const drawn = Math.round(rng.uniform(0.5, 1.5) * Math.PI * sigma * sigma);
  const largest = Math.max(1, Math.floor(options.maxObjectFraction * objectPixels));
  const target = Math.min(Math.max(drawn, Math.min(options.minPixels, largest)), largest);
  const centre = nthSet(object, rng.int(objectPixels));
  const cx = centre % width;
  const cy = (centre - cx) / width;

  // Work in a box of +-4 sigma around the centre: the window is negligible beyond it.
  const reach = Math.ceil(4 * sigma);
  const x0 = Math.max(0, cx - reach);
  const y0 = Math.max(0, cy - reach);
  const bw = Math.min(width, cx + reach + 1) - x0;
  const bh = Math.min(height, cy + reach + 1) - y0;
  const coarse = valueNoise(bw, bh, Math.max(2, sigma), rng);
  const fine = valueNoise(bw, bh, Math.max(2, sigma / 2.5), rng);
  const spread = 2 * (1.5 * sigma) ** 2;
  const field = new Float32Array(bw * bh);
  const candidates: number[] = [];
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      if (!object[(y0 + y) * width + x0 + x]) continue;
      const r2 = (x0 + x - cx) ** 2 + (y0 + y - cy) ** 2;
      const v = (0.2 + 0.55 * coarse[y * bw + x] + 0.25 * fine[y * bw + x]) * Math.exp(-r2 / spread);
      field[y * bw + x] = v;
      candidates.push(v);
    }
  }
  const sorted = Float32Array.from(candidates).sort();
  const threshold = sorted[Math.max(0, sorted.length - Math.min(target, sorted.length))];
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = (y0 + y) * width + x0 + x;
      if (object[i] && field[y * bw + x] >= threshold) mask[i] = 1;
    }
  }
  return mask;
}

export function countSet(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

function nthSet(mask: Uint8Array, n: number): number {
  for (let i = 0; i < mask.length; i++) if (mask[i] && n-- === 0) return i;
  throw new RangeError('nthSet: fewer set pixels than requested');
}

// What fills a synthetic anomaly blob. Gaussian noise is the paper's perturbation; cut-and-paste
// from another normal region, an intensity/colour shift and a local blur add defect types that
// noise alone does not resemble (foreign material, stains, smeared or out-of-focus areas).
// Edges are hard: every pixel of the blob is blended with the same opacity and no pixel outside
// it changes, so the blob is exactly the ground-truth mask.

import { boxBlurRgb } from './image/box-blur.ts';
import { cropRgb, maskBounds } from './image/crop.ts';
import type { RgbImage } from './image/rgb-image.ts';
import type { Rng } from './rng.ts';

export type PerturbationKind = 'gaussian' | 'cutpaste' | 'shift' | 'blur';
export const perturbationKinds: readonly PerturbationKind[] = ['gaussian', 'cutpaste', 'shift', 'blur'];

/** A replacement value for channel `c` of pixel `i` (may fall outside 0..255; it is clamped). */
type Source = (i: number, c: number) => number;

/**
 * Perturbs `image` in place at the pixels where `mask` is set, blending the perturbation with
 * `opacity` (1 = replace). `donors` are normal images for cut-and-paste (any size).
 */
export function applyPerturbation(kind: PerturbationKind, image: RgbImage, mask: Uint8Array, opacity: number, donors: RgbImage[], rng: Rng): void {
  const source = makeSource(kind, image, mask, donors, rng);
  const data = image.data;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) {
      const v = (1 - opacity) * data[i * 3 + c] + opacity * source(i, c);
      data[i * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
}

function makeSource(kind: PerturbationKind, image: RgbImage, mask: Uint8Array, donors: RgbImage[], rng: Rng): Source {
  const data = image.data;
  switch (kind) {
    case 'gaussian': {
      const sigma = rng.uniform(20, 60);
      return (i, c) => data[i * 3 + c] + sigma * rng.normal();
    }
    case 'shift': {
      const base = (rng.float() < 0.5 ? -1 : 1) * rng.uniform(30, 80);
      const offsets = [0, 1, 2].map(() => base + rng.uniform(-25, 25));
      return (i, c) => data[i * 3 + c] + offsets[c];
    }
    case 'blur': {
      const radius = 2 + rng.int(4);
      // Blur only around the blob; the margin covers the reach of the three box passes.
      const box = maskBounds(mask, image.width, image.height, 3 * radius);
      if (!box) return (i, c) => data[i * 3 + c];
      const blurred = boxBlurRgb(cropRgb(image, box), radius);
      return (i, c) => {
        const x = i % image.width;
        const y = (i - x) / image.width;
        return blurred.data[((y - box.y0) * box.width + x - box.x0) * 3 + c];
      };
    }
    case 'cutpaste': {
      const donor = donors.length ? donors[rng.int(donors.length)] : image;
      // Shift by at least an eighth of the image so the pasted texture comes from elsewhere.
      const minShift = Math.max(1, Math.floor(Math.min(image.width, image.height) / 8));
      const shift = (size: number) => (rng.float() < 0.5 ? -1 : 1) * (minShift + rng.int(Math.max(1, Math.floor(size / 2) - minShift + 1)));
      const dx = shift(image.width);
      const dy = shift(image.height);
      const dw = donor.width;
      const dh = donor.height;
      return (i, c) => {
        const x = i % image.width;
        const y = (i - x) / image.width;
        const sx = (((x + dx) % dw) + dw) % dw;
        const sy = (((y + dy) % dh) + dh) % dh;
        return donor.data[(sy * dw + sx) * 3 + c];
      };
    }
  }
}

import type { TaskTargets } from './losses.ts';

/**
 * Fraction of each cell of a grid x grid patch grid covered by a pixel mask (non-zero = covered),
 * row-major [grid * grid]: the soft target of the patch-level losses. Pixel (x, y) belongs to cell
 * (floor(x * grid / width), floor(y * grid / height)), so the mask may have any resolution as long
 * as it shows the same field of view as the model input.
 */
export function patchCoverage(mask: ArrayLike<number>, width: number, height: number, grid: number): Float32Array {
  const covered = new Float64Array(grid * grid);
  const total = new Float64Array(grid * grid);
  for (let y = 0; y < height; y++) {
    const row = Math.floor((y * grid) / height) * grid;
    for (let x = 0; x < width; x++) {
      const cell = row + Math.floor((x * grid) / width);
      total[cell]++;
      if (mask[y * width + x]) covered[cell]++;
    }
  }
  return Float32Array.from(covered, (c, i) => (total[i] ? c / total[i] : 0));
}

/** One training image for the task loss: its synthetic mask, or null for a normal image. */
export interface TargetSource {
  mask: ArrayLike<number> | null;
  width: number;
  height: number;
}

/** TaskTargets for images in feature order: patch coverage of each mask (zeros for normals), label 1 per mask. */
export function buildTaskTargets(images: TargetSource[], grid: number): TaskTargets {
  const N = grid * grid;
  const coverage = new Float32Array(images.length * N);
  const labels = new Float32Array(images.length);
  images.forEach((img, b) => {
    if (!img.mask) return;
    coverage.set(patchCoverage(img.mask, img.width, img.height, grid), b * N);
    labels[b] = 1;
  });
  return { coverage, labels };
}

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

import type { RgbImage } from './rgb-image.ts';

/**
 * Approximate Gaussian blur of an RGB image: `passes` separable box blurs of the given radius
 * with clamped edges (three passes are close to a Gaussian with sigma ~ radius).
 */
export function boxBlurRgb(image: RgbImage, radius: number, passes = 3): RgbImage {
  const { width, height } = image;
  const a = Float32Array.from(image.data); // each pass blurs a -> b along rows, b -> a along columns
  const b = new Float32Array(a.length);
  for (let p = 0; p < passes; p++) {
    for (let y = 0; y < height; y++) boxLine(a, b, y * width * 3, 3, width, radius);
    for (let x = 0; x < width; x++) boxLine(b, a, x * 3, width * 3, height, radius);
  }
  const data = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) data[i] = Math.round(a[i]);
  return { width, height, data };
}

/** Box average along a line of RGB pixels (3 interleaved channels), edge pixels repeated. */
function boxLine(src: Float32Array, dst: Float32Array, offset: number, stride: number, length: number, radius: number): void {
  const at = (i: number, c: number) => src[offset + Math.min(Math.max(i, 0), length - 1) * stride + c];
  const size = 2 * radius + 1;
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let i = -radius; i <= radius; i++) sum += at(i, c);
    for (let i = 0; i < length; i++) {
      dst[offset + i * stride + c] = sum / size;
      sum += at(i + radius + 1, c) - at(i - radius, c);
    }
  }
}

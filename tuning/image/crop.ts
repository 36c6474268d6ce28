import type { RgbImage } from './rgb-image.ts';

export interface Box {
  x0: number;
  y0: number;
  width: number;
  height: number;
}

/** Bounding box of the set pixels of `mask`, grown by `margin` and clipped to the image; null if none is set. */
export function maskBounds(mask: ArrayLike<number>, width: number, height: number, margin = 0): Box | null {
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width;
    const y = (i - x) / width;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  if (maxX < 0) return null;
  const x0 = Math.max(0, minX - margin);
  const y0 = Math.max(0, minY - margin);
  return { x0, y0, width: Math.min(width, maxX + margin + 1) - x0, height: Math.min(height, maxY + margin + 1) - y0 };
}

export function cropRgb(image: RgbImage, box: Box): RgbImage {
  const data = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y0 + y) * image.width + box.x0) * 3;
    data.set(image.data.subarray(from, from + box.width * 3), y * box.width * 3);
  }
  return { width: box.width, height: box.height, data };
}

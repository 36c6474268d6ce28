// Shared by the tune/synth/eval tests: generated texture images with drawn defects (and their
// masks), written as PNG.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createRng } from '../../tuning/rng.ts';

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * A woven-looking grey texture (diagonal stripes plus seeded noise), size x size, written as PNG;
 * with `defect`, a dark patch over that box (inclusive-exclusive), and its 0/255 mask PNG beside.
 */
export async function writeTexture(file: string, seed: number, size = 64, defect?: Box, maskFile?: string): Promise<void> {
  const rng = createRng(seed);
  const data = Buffer.alloc(size * size * 3);
  const mask = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = defect && x >= defect.x0 && x < defect.x1 && y >= defect.y0 && y < defect.y1;
      const stripe = ((x + y + seed) >> 2) % 2 ? 170 : 90;
      const v = inside ? 20 : Math.max(0, Math.min(255, stripe + Math.round(12 * rng.normal())));
      data.set([v, v, v], (y * size + x) * 3);
      if (inside) mask[y * size + x] = 255;
    }
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  await sharp(data, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toFile(file);
  if (maskFile) {
    await fs.mkdir(path.dirname(maskFile), { recursive: true });
    await sharp(mask, { raw: { width: size, height: size, channels: 1 } })
      .png()
      .toFile(maskFile);
  }
}

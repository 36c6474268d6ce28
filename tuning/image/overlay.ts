// Pictures for people: masks tinted or outlined over an image, anomaly maps as a heat overlay,
// and a grid of equally sized tiles (contact sheets, report thumbnails).
import type { RgbImage } from './rgb-image.ts';
import { copyRgb } from './rgb-image.ts';

export type Rgb = [number, number, number];

function checkSize(image: RgbImage, length: number, what: string): void {
  if (length !== image.width * image.height) throw new RangeError(`${what} has ${length} values for a ${image.width}x${image.height} image`);
}

/** A copy of `image` with `colour` blended at `alpha` where `mask` is set. */
export function tintMask(image: RgbImage, mask: ArrayLike<number>, colour: Rgb, alpha: number): RgbImage {
  checkSize(image, mask.length, 'mask');
  const out = copyRgb(image);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = Math.round(out.data[i * 3 + c] * (1 - alpha) + colour[c] * alpha);
  }
  return out;
}

/** A copy of `image` with the boundary pixels of `mask` (set, with a 4-neighbour unset or outside) in `colour`. */
export function outlineMask(image: RgbImage, mask: ArrayLike<number>, colour: Rgb): RgbImage {
  checkSize(image, mask.length, 'mask');
  const { width: w, height: h } = image;
  const out = copyRgb(image);
  const set = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!set(x, y) || (set(x - 1, y) && set(x + 1, y) && set(x, y - 1) && set(x, y + 1))) continue;
      out.data.set(colour, (y * w + x) * 3);
    }
  }
  return out;
}

/** Jet-like colour for t in [0, 1]: blue, cyan, yellow, red. */
export function heatColour(t: number): Rgb {
  const x = Math.min(1, Math.max(0, t));
  const channel = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * x - centre))));
  return [channel(3), channel(2), channel(1)];
}

/** A copy of `image` with `values` (same size, scaled by lo..hi to 0..1) as a heat map blended at `alpha`. */
export function heatOverlay(image: RgbImage, values: ArrayLike<number>, lo: number, hi: number, alpha: number): RgbImage {
  checkSize(image, values.length, 'map');
  const out = copyRgb(image);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < values.length; i++) {
    const colour = heatColour((values[i] - lo) / span);
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = Math.round(out.data[i * 3 + c] * (1 - alpha) + colour[c] * alpha);
  }
  return out;
}

/** Rows of tiles, each row left to right, `gap` pixels of `background` between and around tiles. */
export function tileGrid(rows: RgbImage[][], gap: number, background: Rgb = [32, 32, 32]): RgbImage {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const tileW = Math.max(1, ...rows.flat().map((t) => t.width));
  const tileH = Math.max(1, ...rows.flat().map((t) => t.height));
  const width = cols * tileW + (cols + 1) * gap;
  const height = rows.length * tileH + (rows.length + 1) * gap;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(background, i * 3);
  rows.forEach((row, r) =>
    row.forEach((tile, c) => {
      const x0 = gap + c * (tileW + gap);
      const y0 = gap + r * (tileH + gap);
      for (let y = 0; y < tile.height; y++) {
        data.set(tile.data.subarray(y * tile.width * 3, (y + 1) * tile.width * 3), ((y0 + y) * width + x0) * 3);
      }
    }),
  );
  return { width, height, data };
}

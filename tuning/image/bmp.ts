// Windows BMP decoding. sharp (libvips) reads no BMP, but line-scan and industrial cameras often
// save it, so the common uncompressed variants are decoded here: 8-bit palette, 24-bit BGR and
// 32-bit BGRX / bitfields with byte-aligned masks, bottom-up or top-down rows.
import { err, ok, type Result } from '../../util/result.ts';
import type { RgbImage } from './rgb-image.ts';

const BI_RGB = 0;
const BI_BITFIELDS = 3;

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d; // 'BM'
}

export function decodeBmp(bytes: Uint8Array): Result<RgbImage> {
  if (!isBmp(bytes) || bytes.length < 54) return err('not a BMP file (too short or no BM signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) return err(`BMP header of ${headerSize} bytes (OS/2 bitmaps) is not supported`);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bpp = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const bottomUp = rawHeight > 0;
  if (width <= 0 || height === 0) return err(`BMP has an empty size ${width}x${rawHeight}`);

  let channelShift: [number, number, number] = [16, 8, 0]; // r, g, b bit positions in a 32-bit pixel
  if (compression === BI_BITFIELDS && bpp === 32) {
    const masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
    const shifts = masks.map((m) => [0, 8, 16, 24].find((s) => m >>> 0 === (0xff << s) >>> 0));
    if (shifts.some((s) => s === undefined)) return err('BMP bitfield masks that are not whole bytes are not supported');
    channelShift = shifts as [number, number, number];
  } else if (compression !== BI_RGB) {
    return err(`compressed BMP (compression ${compression}) is not supported; save it uncompressed or as PNG`);
  }
  if (bpp !== 8 && bpp !== 24 && bpp !== 32) return err(`${bpp}-bit BMP is not supported (8, 24 and 32 bit are)`);

  let palette: Uint8Array | null = null;
  if (bpp === 8) {
    const colours = view.getUint32(46, true) || 256;
    const start = 14 + headerSize;
    if (start + colours * 4 > bytes.length) return err('BMP palette is truncated');
    palette = bytes.subarray(start, start + colours * 4);
  }
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) return err(`BMP pixel data is truncated (${bytes.length} bytes, ${dataOffset + stride * height} needed)`);

  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (bottomUp ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const p = bytes[row + x] * 4;
        if (p + 2 >= palette.length) return err(`BMP pixel (${x},${y}) uses colour ${p / 4}, beyond the palette`);
        data[o] = palette[p + 2];
        data[o + 1] = palette[p + 1];
        data[o + 2] = palette[p];
      } else if (bpp === 24) {
        const p = row + x * 3;
        data[o] = bytes[p + 2];
        data[o + 1] = bytes[p + 1];
        data[o + 2] = bytes[p];
      } else {
        const pixel = view.getUint32(row + x * 4, true);
        for (let c = 0; c < 3; c++) data[o + c] = (pixel >>> channelShift[c]) & 0xff;
      }
    }
  }
  return ok({ width, height, data });
}

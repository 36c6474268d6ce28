// Image files in and out for tuning, synthesis and evaluation: folders of PNG / JPEG / BMP /
// TIFF / WebP read into 8-bit RGB (at the model's input size when asked), masks as 0/1 maps,
// PNG encoding. Every failure is a message that names the file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { err, ok, type Result } from '../util/result.ts';
import { decodeBmp, isBmp } from './image/bmp.ts';
import type { RgbImage } from './image/rgb-image.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp'] as const;

export function isImageFile(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(name).toLowerCase());
}

/** Image files directly in `dir` (not in subfolders), sorted by name so runs are reproducible. */
export async function listImageFiles(dir: string): Promise<Result<string[]>> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return err(`${dir} does not exist`);
    if (code === 'ENOTDIR') return err(`${dir} is not a directory`);
    return err(`${dir}: cannot be listed (${code ?? (e as Error).message})`);
  }
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isImageFile(e.name) && !e.name.startsWith('.'))
    .map((e) => path.join(dir, e.name))
    .sort();
  return ok(files);
}

/** A sharp pipeline for `file`, with BMP decoded here (libvips has no BMP reader). */
async function openImage(file: string): Promise<Result<Sharp>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    return err(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (isBmp(bytes)) {
    const bmp = decodeBmp(bytes);
    if (!bmp.ok) return err(`${file}: ${bmp.error}`);
    return ok(
      sharp(Buffer.from(bmp.value.data.buffer, bmp.value.data.byteOffset, bmp.value.data.byteLength), {
        raw: { width: bmp.value.width, height: bmp.value.height, channels: 3 },
      }),
    );
  }
  return ok(sharp(bytes, { failOn: 'error' }));
}

/**
 * 8-bit RGB of an image file (grey and alpha dropped to RGB), resized to `size` x `size` when
 * given: the square model input, the whole frame stretched (as the agent feeds camera frames).
 */
export async function readRgbImage(file: string, size?: number): Promise<Result<RgbImage>> {
  const opened = await openImage(file);
  if (!opened.ok) return opened;
  try {
    let pipeline = opened.value.toColourspace('srgb').removeAlpha();
    if (size !== undefined) pipeline = pipeline.resize(size, size, { fit: 'fill' });
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) return err(`${file}: decoded to ${info.channels} channels, expected RGB`);
    return ok({ width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  } catch (e) {
    return err(`${file}: cannot be decoded as an image (${(e as Error).message})`);
  }
}

/** Reads the images of `files` at `size`; stops at the first unreadable one. */
export async function readRgbImages(files: string[], size: number, onImage?: (done: number) => void): Promise<Result<RgbImage[]>> {
  const images: RgbImage[] = [];
  for (const file of files) {
    const image = await readRgbImage(file, size);
    if (!image.ok) return image;
    images.push(image.value);
    onImage?.(images.length);
  }
  return ok(images);
}

export interface BinaryMask {
  width: number;
  height: number;
  /** 1 where the first channel is non-zero. */
  mask: Uint8Array;
}

/** A ground-truth mask file (non-zero = defect) at its own resolution. */
export async function readMask(file: string): Promise<Result<BinaryMask>> {
  const opened = await openImage(file);
  if (!opened.ok) return opened;
  try {
    const { data, info } = await opened.value.extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return ok({ width: info.width, height: info.height, mask: Uint8Array.from(data, (v) => (v ? 1 : 0)) });
  } catch (e) {
    return err(`${file}: cannot be decoded as a mask image (${(e as Error).message})`);
  }
}

/** Width and height of an image file without decoding its pixels. */
export async function imageSize(file: string): Promise<Result<{ width: number; height: number }>> {
  const opened = await openImage(file);
  if (!opened.ok) return opened;
  try {
    const meta = await opened.value.metadata();
    if (!meta.width || !meta.height) return err(`${file}: has no image size`);
    return ok({ width: meta.width, height: meta.height });
  } catch (e) {
    return err(`${file}: cannot be decoded as an image (${(e as Error).message})`);
  }
}

function rgbPipeline(image: RgbImage): Sharp {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
}

export function encodePng(image: RgbImage): Promise<Buffer> {
  return rgbPipeline(image).png().toBuffer();
}

/** A 0/1 mask as a black/white 8-bit grey PNG. */
export function encodeMaskPng(mask: ArrayLike<number>, width: number, height: number): Promise<Buffer> {
  const grey = Buffer.alloc(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = mask[i] ? 255 : 0;
  return sharp(grey, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

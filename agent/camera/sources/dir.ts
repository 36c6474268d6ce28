// `dir:` cameras: the image files of a folder (sorted by name) played in a loop at `fps`, decoded
// with sharp and cut to the model input the same way ffmpeg does (roi crop, then stretch to size).
// The folder is listed again at the start of every cycle, so images can be added while it runs.
// An unreadable image is skipped (logged once); a cycle without a single good image ends the source.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { createLogger } from '../../../util/log.ts';
import type { FrameSize, Roi } from '../frame.ts';
import type { SourceStart } from './source.ts';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp']);
const log = createLogger('dir-source');

/** Decodes one image to packed RGB at `size`, with its own size for the frame geometry. */
async function decode(file: string, roi: Roi | null, size: FrameSize): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const meta = await sharp(file).metadata();
  if (!meta.width || !meta.height) throw new Error('image has no size');
  let img = sharp(file);
  if (roi) {
    const [left, top, width, height] = roi;
    if (left + width > meta.width || top + height > meta.height) {
      throw new Error(`roi [${roi.join(', ')}] does not fit in the ${meta.width}x${meta.height} image`);
    }
    img = img.extract({ left, top, width, height });
  }
  const { data, info } = await img
    .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { rgb: new Uint8Array(data), width: meta.width, height: meta.height };
}

export const startDirSource: SourceStart<'dir'> = ({ path: dir }, o, sink) => {
  let files: string[] = [];
  let next = 0;
  let goodThisCycle = 0;
  let busy = false;
  let done = false;
  const reported = new Set<string>();
  let finish: (reason: string) => void = () => {};
  const ended = new Promise<string>((resolve) => {
    finish = (reason) => {
      done = true;
      clearInterval(timer);
      resolve(reason);
    };
  });

  const tick = async () => {
    if (next >= files.length) {
      if (files.length > 0 && goodThisCycle === 0) return finish(`no readable image in ${dir}`);
      const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => e);
      if (!Array.isArray(names)) return finish(`cannot list ${dir}: ${names.code ?? names.message}`);
      files = names
        .filter((n) => IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase()))
        .sort()
        .map((n) => path.join(dir, n));
      if (files.length === 0) return finish(`no images (${[...IMAGE_EXTENSIONS].join(' ')}) in ${dir}`);
      next = 0;
      goodThisCycle = 0;
    }
    const file = files[next++];
    try {
      const { rgb, width, height } = await decode(file, o.roi, o.size);
      goodThisCycle++;
      if (!done) sink(rgb, { width, height, roi: o.roi });
    } catch (e) {
      if (!reported.has(file)) log.warn(`skipping ${file}: ${(e as Error).message}`);
      reported.add(file);
    }
  };

  const timer = setInterval(() => {
    if (busy) return; // decoding is behind the frame rate: skip this tick rather than queue
    busy = true;
    void tick().finally(() => (busy = false));
  }, 1000 / o.fps);

  return { ended, terminate: () => finish('stopped'), kill: () => finish('stopped') };
};

// The small picture of an event the live page lists: the frame at the event's peak, as a JPEG a
// phone loads quickly (a few kB), encoded once per new peak rather than on every page request.
import sharp from 'sharp';
import type { Frame } from '../camera/frame.ts';

/** Longest side of a thumbnail in pixels; smaller frames keep their size. */
export const THUMBNAIL_SIZE = 160;

export function encodeThumbnail(frame: Frame): Promise<Buffer> {
  return sharp(Buffer.from(frame.rgb.buffer, frame.rgb.byteOffset, frame.rgb.byteLength), {
    raw: { width: frame.width, height: frame.height, channels: 3 },
  })
    .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 75 })
    .toBuffer();
}

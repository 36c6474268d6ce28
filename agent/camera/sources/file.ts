// A video file played as a camera through ffmpeg.
import { startFfmpegSource } from '../ffmpeg-source.ts';
import type { SourceStart } from './source.ts';

export function fileInput(file: string): string[] {
  // -re paces reading at the file's own rate and the loop never ends: a file behaves like a live camera.
  return ['-re', '-stream_loop', '-1', '-i', file];
}

export const startFileSource: SourceStart<'file'> = ({ path }, o, sink) => startFfmpegSource({ ...o, input: fileInput(path) }, sink);

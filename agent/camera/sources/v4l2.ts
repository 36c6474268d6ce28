// /dev/videoN cameras (V4L2) through ffmpeg.
import { LIVE_PROBE, startFfmpegSource } from '../ffmpeg-source.ts';
import type { SourceStart } from './source.ts';

export function v4l2Input(device: string): string[] {
  return ['-f', 'v4l2', ...LIVE_PROBE, '-i', device];
}

export const startV4l2Source: SourceStart<'v4l2'> = ({ device }, o, sink) => startFfmpegSource({ ...o, input: v4l2Input(device) }, sink);

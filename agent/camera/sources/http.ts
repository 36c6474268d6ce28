// http:// and https:// MJPEG streams through ffmpeg.
import { LIVE_PROBE, microseconds, startFfmpegSource } from '../ffmpeg-source.ts';
import type { SourceStart } from './source.ts';

export function httpInput(url: string, ioTimeoutS: number): string[] {
  // MJPEG over HTTP carries no timestamps: stamp arrival time so the fps filter counts real seconds.
  return ['-rw_timeout', microseconds(ioTimeoutS), ...LIVE_PROBE, '-fflags', 'nobuffer', '-use_wallclock_as_timestamps', '1', '-i', url];
}

export const startHttpSource: SourceStart<'http'> = ({ url }, o, sink) => startFfmpegSource({ ...o, input: httpInput(url, o.ioTimeoutS) }, sink);

// rtsp:// and rtsps:// cameras through ffmpeg: interleaved over the RTSP TCP connection (no UDP
// ports to open, no lost packets), probing kept short so that the first frame comes quickly.
import { LIVE_PROBE, microseconds, startFfmpegSource } from '../ffmpeg-source.ts';
import type { SourceStart } from './source.ts';

export function rtspInput(url: string, ioTimeoutS: number): string[] {
  // `-timeout` is the RTSP demuxer's socket I/O timeout in ffmpeg >= 5 (`-stimeout` before).
  return ['-rtsp_transport', 'tcp', '-timeout', microseconds(ioTimeoutS), ...LIVE_PROBE, '-fflags', 'nobuffer', '-i', url];
}

export const startRtspSource: SourceStart<'rtsp'> = ({ url }, o, sink) => startFfmpegSource({ ...o, input: rtspInput(url, o.ioTimeoutS) }, sink);

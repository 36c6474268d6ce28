// One ffmpeg child per camera, spawned directly: it reads the input (RTSP, HTTP, V4L2 device or a
// looped video file), keeps `fps` frames per second, crops the roi, scales to the model input
// size (stretching: the roi is the place to choose the aspect) and writes packed rgb24 frames to
// stdout. The input's own size is read from ffmpeg's stream description on stderr, which comes
// before the first frame.
import { spawn } from 'node:child_process';
import { redact } from '../../util/redact.ts';
import type { FrameSize, Roi, SourceGeometry } from './frame.ts';
import { RawFrameReader } from './raw-frame-reader.ts';
import type { FrameSink, RunningSource } from './supervisor.ts';

export interface FfmpegSourceOptions {
  /** ffmpeg's input options and `-i` (each kind of source in sources/ knows its own). */
  input: string[];
  fps: number;
  roi: Roi | null;
  size: FrameSize;
  ffmpegPath?: string;
}

/**
 * Probing for live inputs. By default ffmpeg reads up to 5 s of stream to estimate the frame rate
 * before its first frame comes out (3.2 s measured on a 10 fps RTSP stream); the estimate is not
 * needed (the fps filter goes by timestamps), so probing ends once the codec parameters are known.
 */
export const LIVE_PROBE = ['-fpsprobesize', '0', '-analyzeduration', '2000000'];

/** ffmpeg's I/O timeout options take microseconds. */
export const microseconds = (s: number) => String(Math.round(s * 1e6));

const STDERR_LINES_KEPT = 8;

export function ffmpegArgs(o: FfmpegSourceOptions): string[] {
  const filters = [`fps=${o.fps}`];
  if (o.roi) {
    const [x, y, w, h] = o.roi;
    filters.push(`crop=${w}:${h}:${x}:${y}`);
  }
  filters.push(`scale=${o.size.width}:${o.size.height}:flags=bicubic`);
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'info',
    ...o.input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filters.join(','),
    '-pix_fmt',
    'rgb24',
    '-f',
    'rawvideo',
    'pipe:1',
  ];
}

/**
 * The input video size from ffmpeg's stream description, e.g.
 * `Stream #0:0: Video: h264 (High), yuv420p(progressive), 1920x1080 [SAR 1:1 DAR 16:9], 25 fps`.
 * Only lines of the input section count (the output section describes the scaled stream).
 */
export function parseInputSize(line: string): { width: number; height: number } | null {
  if (!/Stream #0:\d+.*: Video: /.test(line)) return null;
  const m = /, (\d+)x(\d+)(?=[\s,[]|$)/.exec(line);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}

export function startFfmpegSource(o: FfmpegSourceOptions, sink: FrameSink): RunningSource {
  const child = spawn(o.ffmpegPath ?? 'ffmpeg', ffmpegArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  let geometry: SourceGeometry | null = null;
  /** A frame that arrived before stderr told us the input size (the two pipes are not ordered). */
  let early: Uint8Array | null = null;
  const reader = new RawFrameReader(o.size.width * o.size.height * 3, (rgb) => {
    if (geometry) sink(rgb, geometry);
    else early = rgb;
  });
  child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));

  const lastLines: string[] = [];
  let inInputSection = true;
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    const lines = (partial + text).split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      // ffmpeg repeats the input URL, password included, in its errors; these lines become the reason.
      lastLines.push(redact(line.trim()));
      if (lastLines.length > STDERR_LINES_KEPT) lastLines.shift();
      if (/^(Output #|Stream mapping:)/.test(line)) inInputSection = false;
      const size = inInputSection && !geometry ? parseInputSize(line) : null;
      if (size) {
        geometry = { ...size, roi: o.roi };
        if (early) sink(early, geometry);
        early = null;
      }
    }
  });

  const ended = new Promise<string>((resolve) => {
    child.on('error', (e) => resolve(`cannot start ffmpeg (${e.message}); is ffmpeg installed?`));
    child.on('close', (code, signal) => {
      const detail = lastLines.at(-1) ?? 'no output';
      // Code 0 means the input ended (a camera closing its stream); ffmpeg's last line is then its statistics.
      if (code === 0) resolve('the stream ended (ffmpeg exited with code 0)');
      else resolve(signal ? `ffmpeg ended by ${signal}` : `ffmpeg exited with code ${code}: ${detail}`);
    });
  });
  return {
    ended,
    terminate: () => child.kill('SIGTERM'),
    kill: () => child.kill('SIGKILL'),
  };
}

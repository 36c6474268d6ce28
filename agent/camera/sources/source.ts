// What every kind of camera source has in common: how it is started (from its parsed spec and the
// camera's settings, delivering frames to a sink) and the settings themselves, derived from the
// camera's configuration in one place so that the agent and `linewatch doctor` start sources alike.
import type { CameraConfig } from '../../config.ts';
import type { FrameSize, Roi } from '../frame.ts';
import type { SourceKind, SourceSpec } from '../source-spec.ts';
import type { FrameSink, RunningSource } from '../supervisor.ts';

export interface SourceSettings {
  fps: number;
  roi: Roi | null;
  size: FrameSize;
  /** Network inputs give up after this long without data (ffmpeg's own I/O timeout). */
  ioTimeoutS: number;
}

export type SpecOf<K extends SourceKind> = Extract<SourceSpec, { kind: K }>;

/** Starts one kind of source. */
export type SourceStart<K extends SourceKind> = (spec: SpecOf<K>, settings: SourceSettings, sink: FrameSink) => RunningSource;

export function sourceSettings(cam: CameraConfig, size: FrameSize): SourceSettings {
  // ffmpeg's own timeout is only a backstop behind the supervisor's limits (whose reason is the one
  // reported): it must not fire first, during a slow start in particular.
  return { fps: cam.fps, roi: cam.roi, size, ioTimeoutS: 2 * Math.max(cam.watchdog_s, cam.start_timeout_s) };
}

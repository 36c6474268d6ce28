// A configured camera: the right source for its `source:` kind under a supervisor that applies
// the watchdog, restarts and status reporting. This is what the agent starts per enabled camera.
import type { CameraConfig } from '../config.ts';
import { startDirSource } from './dir-source.ts';
import { startFfmpegSource } from './ffmpeg-source.ts';
import type { Frame, FrameSize } from './frame.ts';
import { CameraSupervisor, type Backoff, type CameraStatus, type SourceStarter } from './supervisor.ts';

export interface CameraHandlers {
  onFrame(frame: Frame): void;
  onStatus(status: CameraStatus): void;
}

export function createCamera(
  name: string,
  cfg: CameraConfig,
  size: FrameSize,
  handlers: CameraHandlers,
  timing?: { killGraceMs?: number; backoff?: Backoff },
): CameraSupervisor {
  const { source, fps, roi, watchdog_s } = cfg;
  const start: SourceStarter =
    source.kind === 'dir'
      ? (sink) => startDirSource({ dir: source.path, fps, roi, size }, sink)
      : (sink) => startFfmpegSource({ spec: source, fps, roi, size, ioTimeoutS: watchdog_s }, sink);
  return new CameraSupervisor({ camera: name, size, start, watchdogMs: watchdog_s * 1000, ...handlers, ...timing });
}

// A configured camera: the source for its `source:` kind (sources/registry.ts) under a supervisor
// that applies the watchdog, restarts and status reporting. This is what the agent starts per
// enabled camera.
import type { CameraConfig } from '../config.ts';
import type { Frame, FrameSize } from './frame.ts';
import { startSource } from './sources/registry.ts';
import { sourceSettings } from './sources/source.ts';
import { type Backoff, type CameraStatus, CameraSupervisor } from './supervisor.ts';

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
  const settings = sourceSettings(cfg, size);
  return new CameraSupervisor({
    camera: name,
    size,
    start: (sink) => startSource(cfg.source, settings, sink),
    startTimeoutMs: cfg.start_timeout_s * 1000,
    watchdogMs: cfg.watchdog_s * 1000,
    ...handlers,
    ...timing,
  });
}

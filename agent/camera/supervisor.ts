// Keeps one camera's source running: stamps its frames, watches for silence (no first frame
// within `startTimeoutMs` of a start, then no frame for `watchdogMs` -> SIGTERM, then SIGKILL after
// `killGraceMs`), restarts it after it ends with exponential backoff (reset once frames flow
// again) and reports online/offline transitions. The first frame has its own limit because a
// live camera can need longer to set up (RTSP handshake, waiting for a keyframe) than it may
// later go silent: with one limit for both, such a camera was killed before every first frame.
import { createLogger, type Logger } from '../../util/log.ts';
import { redact } from '../../util/redact.ts';
import type { Frame, FrameSize, SourceGeometry } from './frame.ts';

/** A started source (an ffmpeg child, a folder reader). */
export interface RunningSource {
  /** Settles once the source has stopped for good, with a one-line reason. */
  readonly ended: Promise<string>;
  /** Polite stop (SIGTERM for a child process). */
  terminate(): void;
  /** Forced stop (SIGKILL). */
  kill(): void;
}

/** Receives each frame's pixels (at the model input size) and the camera geometry they came from. */
export type FrameSink = (rgb: Uint8Array, source: SourceGeometry) => void;
export type SourceStarter = (sink: FrameSink) => RunningSource;

export type CameraStatus = { state: 'online' } | { state: 'offline'; reason: string };

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface SupervisorOptions {
  camera: string;
  size: FrameSize;
  start: SourceStarter;
  /** Time for the first frame after each start. */
  startTimeoutMs: number;
  /** Time between frames once the first has come. */
  watchdogMs: number;
  onFrame(frame: Frame): void;
  onStatus(status: CameraStatus): void;
  killGraceMs?: number;
  backoff?: Backoff;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000 };
const DEFAULT_KILL_GRACE_MS = 3000;

/** Delay before restart number `attempt` (0-based): initial, 2x, 4x, ... capped at max. */
export function backoffDelay(attempt: number, b: Backoff): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** attempt);
}

export class CameraSupervisor {
  private readonly log: Logger;
  private current: RunningSource | null = null;
  /** Counts launches; frames from an earlier launch (still draining) are ignored. */
  private generation = 0;
  /** Set when we stopped the current source ourselves; it is the reason reported, not the exit code. */
  private killReason: string | null = null;
  /** Whether the current source has delivered a frame: until then the start timeout applies. */
  private firstFrameSeen = false;
  private watchdog: NodeJS.Timeout | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private online = false;
  private attempt = 0;
  private nextFrameId = 1;
  private lastStatus = '';
  private frameCount = 0;
  private restartCount = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = createLogger(`camera ${opts.camera}`);
  }

  start(): void {
    this.stopping = false;
    if (!this.current && !this.restartTimer) this.launch();
  }

  /** Stops the source (SIGTERM, SIGKILL after the grace period) and does not restart it. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.clearTimer('restartTimer');
    const src = this.current;
    if (!src) return;
    this.endSource(src, 'stopped');
    await src.ended;
  }

  get stats(): { frames: number; restarts: number; online: boolean } {
    return { frames: this.frameCount, restarts: this.restartCount, online: this.online };
  }

  private launch(): void {
    this.restartTimer = null;
    this.killReason = null;
    const generation = ++this.generation;
    const src = this.opts.start((rgb, source) => this.deliver(generation, rgb, source));
    this.current = src;
    this.firstFrameSeen = false;
    this.watch(src, this.opts.startTimeoutMs, `no first frame within ${this.opts.startTimeoutMs / 1000} s`);
    void src.ended.then((reason) => this.onEnded(src, reason));
  }

  /** Stops `src` with `reason` unless a frame comes within `ms` (each frame re-arms it). */
  private watch(src: RunningSource, ms: number, reason: string): void {
    this.clearTimer('watchdog');
    this.watchdog = setTimeout(() => this.endSource(src, reason), ms);
  }

  private deliver(generation: number, rgb: Uint8Array, source: SourceGeometry): void {
    if (generation !== this.generation || this.killReason !== null) return;
    if (this.firstFrameSeen) this.watchdog?.refresh();
    else {
      this.firstFrameSeen = true;
      this.watch(this.current!, this.opts.watchdogMs, `no frame for ${this.opts.watchdogMs / 1000} s`);
    }
    this.frameCount++;
    if (!this.online) {
      this.online = true;
      this.attempt = 0;
      this.setStatus({ state: 'online' });
    }
    const { camera, size } = this.opts;
    this.opts.onFrame({ camera, frameId: this.nextFrameId++, ts: Date.now(), width: size.width, height: size.height, rgb, source });
  }

  private endSource(src: RunningSource, reason: string): void {
    if (this.killReason !== null) return;
    this.killReason = reason;
    if (reason !== 'stopped') this.log.warn(`${reason}: stopping the source`);
    this.clearTimer('watchdog');
    src.terminate();
    this.killTimer = setTimeout(() => src.kill(), this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  }

  private onEnded(src: RunningSource, reason: string): void {
    if (src !== this.current) return;
    this.clearTimer('watchdog');
    this.clearTimer('killTimer');
    this.current = null;
    this.online = false;
    if (this.stopping) return;
    // The reason is published (MQTT, page): whatever the source put in it, no credential goes out.
    const shown = redact(this.killReason ?? reason);
    this.setStatus({ state: 'offline', reason: shown });
    const delay = backoffDelay(this.attempt++, this.opts.backoff ?? DEFAULT_BACKOFF);
    this.log.info(`${shown}; restarting in ${delay} ms`);
    this.restartCount++;
    this.restartTimer = setTimeout(() => this.launch(), delay);
  }

  private setStatus(status: CameraStatus): void {
    const key = JSON.stringify(status);
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    this.opts.onStatus(status);
  }

  private clearTimer(name: 'watchdog' | 'killTimer' | 'restartTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = null;
  }
}

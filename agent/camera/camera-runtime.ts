// One camera inside the running agent: it owns its source (started, stopped, enabled and
// restarted here), its detector and the operator's overrides, and what the page shows of it. A
// scored frame comes back here and goes to the detector, MQTT (result, mask, events), the normal
// reservoir and the metrics.
import sharp from 'sharp';
import type { ScoreScale } from '../../tuning/calibration.ts';
import { createLogger } from '../../util/log.ts';
import type { CameraConfig, DetectorConfig } from '../config.ts';
import type { CameraState } from '../contract/payloads.ts';
import { CameraDetector } from '../detector/camera-detector.ts';
import { encodeThumbnail } from '../detector/event-thumbnail.ts';
import type { DetectorEvent } from '../detector/events.ts';
import type { AnomalyMap } from '../detector/frame-verdict.ts';
import { encodeMaskPng } from '../detector/mask-png.ts';
import { RecentEvents } from '../detector/recent-events.ts';
import type { DeliverScored, ScoredFrame } from '../engine/pipeline.ts';
import type { CameraView } from '../http/agent-view.ts';
import type { ActiveModel } from '../model/active-model.ts';
import type { ContractPublisher } from '../mqtt/publisher.ts';
import type { NormalReservoir } from '../retune/reservoir.ts';
import { combineScores } from '../scoring/combine.ts';
import { type RawScores, rawScores } from '../scoring/raw-scores.ts';
import type { AgentMetrics } from '../stats/prometheus-metrics.ts';
import { createCamera } from './camera.ts';
import type { Frame } from './frame.ts';
import type { CameraStatus, CameraSupervisor } from './supervisor.ts';

const log = createLogger('camera');
const HISTORY = 300;
/** Frames at most this fraction of the threshold feed the normal reservoir: clearly normal, not borderline. */
export const NORMAL_MARGIN = 0.5;

/** What every camera shares: where frames go, what they are scored with and where results go. */
export interface CameraContext {
  publisher: () => ContractPublisher | null;
  metrics: AgentMetrics;
  reservoir: NormalReservoir;
  /** The prompt set in force, and the model's input size, which the source scales to. */
  model: Pick<ActiveModel, 'prompts' | 'promptSetId' | 'inputSize'>;
  /** Hands a frame to the inference pipeline; its result comes back through `deliver`. */
  offer: (frame: Frame, deliver: DeliverScored) => void;
  detector: DetectorConfig;
}

/** What an operator changed by command (`set`), over the configuration. */
export interface CameraOverrides {
  sensitivity: number;
  /** Overrides the prompt set's threshold (normalised scale) when set. */
  threshold: number | null;
}

type ViewStatus = { state: CameraState; reason?: string };

export class CameraRuntime {
  readonly detector: CameraDetector;
  status: ViewStatus = { state: 'offline', reason: 'starting' };
  readonly overrides: CameraOverrides;
  /** The page's list of this camera's last events. */
  readonly recentEvents: RecentEvents;
  processed = 0;
  private supervisor: CameraSupervisor | null = null;
  private latest: { frame: Frame; map: AnomalyMap; calibration: ScoreScale; score: number; scores: RawScores; threshold: number; anomalous: boolean } | null =
    null;
  /** The page's images of the latest frame, encoded when the page asks (nobody may be watching). */
  private encoded: { frameId: number; frame?: Promise<Buffer>; mask?: Promise<Buffer> } = { frameId: -1 };
  private readonly history: { ts: number; score: number }[] = [];

  constructor(
    readonly name: string,
    readonly cfg: CameraConfig,
    private readonly ctx: CameraContext,
  ) {
    const d = ctx.detector;
    this.overrides = { sensitivity: d.sensitivity, threshold: null };
    this.recentEvents = new RecentEvents({
      encode: encodeThumbnail,
      onEncodeError: (e) => log.warn(`camera ${name}: event thumbnail not encoded: ${e.message}`),
    });
    this.detector = new CameraDetector(name, cfg.ignore, {
      sensitivity: d.sensitivity,
      rules: { openFrames: d.event_open_frames, closeFrames: d.event_close_frames, updateIntervalMs: d.event_update_interval_s * 1000 },
    });
    ctx.metrics.setCameraState(name, this.status.state);
  }

  /** Starts the source when the configuration enables the camera; otherwise reports it disabled. */
  start(): void {
    if (this.cfg.enabled) this.startSource();
    else this.setStatus({ state: 'disabled', reason: 'disabled in the configuration' });
  }

  private startSource(): void {
    const size = this.ctx.model.inputSize;
    this.supervisor = createCamera(
      this.name,
      this.cfg,
      { width: size, height: size },
      {
        onFrame: (frame) => this.ctx.offer(frame, (s) => this.deliver(s)),
        onStatus: (s) => this.setStatus(s),
      },
    );
    this.supervisor.start();
  }

  /** Stops the source (the open event is closed by the status change it causes). */
  async stop(): Promise<void> {
    const sup = this.supervisor;
    this.supervisor = null;
    await sup?.stop();
  }

  /** `set {enabled}`. */
  async setEnabled(enabled: boolean): Promise<void> {
    if (enabled && !this.supervisor) this.startSource();
    if (!enabled && this.supervisor) {
      await this.stop();
      this.setStatus({ state: 'disabled', reason: 'disabled by command' });
    }
  }

  /** Restarts a running source, e.g. for a model with another input size. */
  async restart(): Promise<void> {
    if (!this.supervisor) return;
    await this.stop();
    this.startSource();
  }

  /** `set {sensitivity, threshold}`: applies from the next frame; threshold null drops the override. */
  applyOverrides(o: { sensitivity?: number; threshold?: number | null }): void {
    if (o.sensitivity !== undefined) {
      this.overrides.sensitivity = o.sensitivity;
      this.detector.setSensitivity(o.sensitivity);
    }
    if (o.threshold !== undefined) this.overrides.threshold = o.threshold;
  }

  private setStatus(s: CameraStatus | { state: 'disabled'; reason: string }): void {
    this.status = s.state === 'online' ? { state: 'online' } : { state: s.state, reason: s.reason };
    this.ctx.metrics.setCameraState(this.name, this.status.state);
    this.ctx
      .publisher()
      ?.cameraStatus(this.name, this.status.state, this.status.reason)
      .catch((e: Error) => log.debug(`camera status not published: ${e.message}`));
    if (s.state !== 'online') void this.closeEvent();
  }

  /** Ends an open event (camera offline, agent stopping); resolves once it is in the outbox. */
  async closeEvent(): Promise<void> {
    await this.publishEvent(this.detector.events.close());
  }

  private async publishEvent(e: DetectorEvent | null): Promise<void> {
    if (!e) return;
    this.recentEvents.record(e);
    const stored = await this.ctx.publisher()?.event(e);
    // Only what reached the outbox counts: a dropped event (full disk) is counted as dropped there.
    if (stored?.ok) this.ctx.metrics.events.inc({ camera: this.name, type: e.type });
  }

  private deliver(s: ScoredFrame): void {
    const receivedAt = Date.now();
    this.handle(s, receivedAt).catch((e) => log.error(`camera ${this.name}: ${(e as Error).message}`));
  }

  /** Handles one scored frame; `receivedAt` is when its result came back from the worker. */
  async handle(s: ScoredFrame, receivedAt: number): Promise<void> {
    const prompts = this.ctx.model.prompts;
    const { frame } = s;
    const combined = combineScores(s.scores, prompts.scorers, this.ctx.detector.scorers);
    const calibration = this.overrides.threshold === null ? combined.scale : { ...combined.scale, threshold: this.overrides.threshold };
    const map = { values: combined.map, width: frame.width, height: frame.height };
    const scores = rawScores(s.scores, this.detector.ignoreFor(map, frame.source));
    const { verdict, event } = this.detector.process(frame.ts, map, frame.source, calibration);
    if (this.detector.events.lastFrameWasPeak) this.recentEvents.peak(frame, verdict.score);
    this.processed++;
    this.ctx.metrics.framesProcessed.inc({ camera: this.name });
    this.ctx.metrics.inferenceLatency.observe({ camera: this.name }, s.latencyMs.infer / 1000);
    this.ctx.metrics.score.set({ camera: this.name }, verdict.score);
    this.ctx.metrics.threshold.set({ camera: this.name }, verdict.threshold);
    this.latest = { frame, map, calibration, score: verdict.score, scores, threshold: verdict.threshold, anomalous: verdict.anomalous };
    this.history.push({ ts: frame.ts, score: verdict.score });
    if (this.history.length > HISTORY) this.history.shift();

    const pub = this.ctx.publisher();
    pub?.result(this.name, {
      ts: frame.ts,
      frame_id: frame.frameId,
      score: verdict.score,
      raw_score: verdict.rawScore,
      scores,
      anomalous: verdict.anomalous,
      threshold: verdict.threshold,
      prompt_set: prompts.id,
      latency_ms: { pre: s.latencyMs.pre, infer: s.latencyMs.infer, post: Date.now() - receivedAt },
    });
    void this.publishEvent(event);

    const masks = this.ctx.detector.publish_masks;
    const wantMask = masks === 'always' || (masks === 'on_anomaly' && verdict.anomalous);
    if (wantMask && pub) {
      const png = await this.viewMask();
      if (png) pub.mask(this.name, png, frame.frameId);
    }
    if (this.admitsAsNormal(verdict.score, verdict.threshold, prompts.tuned)) {
      void this.ctx.reservoir.offer(this.name, frame.rgb, frame.width, frame.height, frame.ts);
    }
  }

  /**
   * Before the first tuning the zero-shot scores are uncalibrated, so the reservoir takes every
   * frame: a line runs normal most of the time, and the first prompt set learns from what it sees.
   * Afterwards only clearly normal frames outside events are kept.
   */
  private admitsAsNormal(score: number, threshold: number, tuned: boolean): boolean {
    if (!tuned) return true;
    return !this.detector.events.isOpen && score <= NORMAL_MARGIN * threshold;
  }

  /** The cached encodings of the latest frame, reset when a newer frame arrived. */
  private encodings(): { frameId: number; frame?: Promise<Buffer>; mask?: Promise<Buffer> } | null {
    if (!this.latest) return null;
    if (this.encoded.frameId !== this.latest.frame.frameId) this.encoded = { frameId: this.latest.frame.frameId };
    return this.encoded;
  }

  private encodeFrame(frame: Frame): Promise<Buffer> {
    return sharp(Buffer.from(frame.rgb.buffer, frame.rgb.byteOffset, frame.rgb.byteLength), {
      raw: { width: frame.width, height: frame.height, channels: 3 },
    })
      .jpeg({ quality: 85 })
      .toBuffer();
  }

  /** The latest frame as PNG, for the `snapshot` command. */
  async latestPng(): Promise<{ png: Buffer; frameId: number; ts: number; score: number; anomalous: boolean } | null> {
    if (!this.latest) return null;
    const { frame, score, anomalous } = this.latest;
    const png = await sharp(Buffer.from(frame.rgb.buffer, frame.rgb.byteOffset, frame.rgb.byteLength), {
      raw: { width: frame.width, height: frame.height, channels: 3 },
    })
      .png()
      .toBuffer();
    return { png, frameId: frame.frameId, ts: frame.ts, score, anomalous };
  }

  async viewFrame(): Promise<Buffer | null> {
    const e = this.encodings();
    if (!e || !this.latest) return null;
    e.frame ??= this.encodeFrame(this.latest.frame);
    return e.frame;
  }

  /** The latest anomaly map as the MQTT mask PNG (encoded once per frame, shared by MQTT and the page). */
  async viewMask(): Promise<Buffer | null> {
    const e = this.encodings();
    if (!e || !this.latest) return null;
    e.mask ??= encodeMaskPng(this.latest.map, this.latest.calibration);
    return e.mask;
  }

  /** What the page shows of this camera. */
  view(): CameraView {
    return {
      name: this.name,
      status: this.status.state,
      ...(this.status.reason ? { status_reason: this.status.reason } : {}),
      frame_id: this.latest?.frame.frameId ?? null,
      score: this.latest?.score ?? null,
      scores: this.latest?.scores ?? null,
      threshold: this.latest?.threshold ?? null,
      overrides: { ...this.overrides },
      anomalous: this.latest?.anomalous ?? false,
      prompt_set: this.ctx.model.promptSetId,
      history: this.history.slice(),
      events: this.recentEvents.list(),
    };
  }
}

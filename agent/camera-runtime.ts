// One camera inside the running agent: its source, detector and what the page shows of it.
// A scored frame goes through here to the detector, MQTT (result, mask, events), the normal
// reservoir and the metrics.
import sharp from 'sharp';
import type { ScoreScale } from '../tuning/calibration.ts';
import { createLogger } from '../util/log.ts';
import type { ActivePrompts } from './active-prompts.ts';
import type { Frame } from './camera/frame.ts';
import type { CameraStatus, CameraSupervisor } from './camera/supervisor.ts';
import type { CameraConfig } from './config.ts';
import type { CameraState, EventPayload } from './contract/payloads.ts';
import { CameraDetector, type DetectorSettings } from './detector/camera-detector.ts';
import type { DetectorEvent } from './detector/events.ts';
import type { AnomalyMap } from './detector/frame-verdict.ts';
import { encodeMaskPng } from './detector/mask-png.ts';
import type { ScoredFrame } from './engine/pipeline.ts';
import type { CameraSnapshot } from './http/agent-view.ts';
import type { AgentMetrics } from './http/metrics.ts';
import type { ContractPublisher } from './mqtt/publisher.ts';
import type { NormalReservoir } from './retune/reservoir.ts';
import { combineScores } from './scoring/combine.ts';
import { type RawScores, rawScores } from './scoring/raw-scores.ts';
import type { ScorerName } from './scoring/scorer.ts';

const log = createLogger('camera');
const HISTORY = 300;
/** Frames at most this fraction of the threshold feed the normal reservoir: clearly normal, not borderline. */
const NORMAL_MARGIN = 0.5;

export interface CameraContext {
  publisher: () => ContractPublisher | null;
  metrics: AgentMetrics;
  reservoir: NormalReservoir;
  prompts: () => ActivePrompts;
  /** `detector.scorers`: whose maps are combined. */
  scorers: readonly ScorerName[];
  publishMasks: 'always' | 'on_anomaly' | 'never';
}

export interface CameraTuning {
  sensitivity: number;
  /** Overrides the prompt set's threshold (normalised scale) when set by command. */
  threshold: number | null;
}

function toEventPayload(e: DetectorEvent): EventPayload {
  const bbox = e.bbox ? { x: e.bbox[0], y: e.bbox[1], w: e.bbox[2], h: e.bbox[3] } : null;
  return { ...e, bbox };
}

export class CameraRuntime {
  readonly detector: CameraDetector;
  supervisor: CameraSupervisor | null = null;
  status: { state: CameraState; reason?: string } = { state: 'offline', reason: 'starting' };
  tuning: CameraTuning;
  processed = 0;
  lastStatusChange = Date.now();
  private latest: { frame: Frame; map: AnomalyMap; calibration: ScoreScale; score: number; scores: RawScores; threshold: number; anomalous: boolean } | null =
    null;
  /** The page's images of the latest frame, encoded when the page asks (nobody may be watching). */
  private encoded: { frameId: number; frame?: Promise<Buffer>; mask?: Promise<Buffer> } = { frameId: -1 };
  private readonly history: { ts: number; score: number }[] = [];

  constructor(
    readonly name: string,
    readonly cfg: CameraConfig,
    private readonly ctx: CameraContext,
    settings: DetectorSettings,
  ) {
    this.detector = new CameraDetector(name, cfg.ignore, settings);
    this.tuning = { sensitivity: settings.sensitivity, threshold: null };
    ctx.metrics.setCameraState(name, this.status.state);
  }

  setStatus(s: CameraStatus | { state: 'disabled'; reason: string }): void {
    this.status = s.state === 'online' ? { state: 'online' } : { state: s.state, reason: s.reason };
    this.lastStatusChange = Date.now();
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
    const stored = await this.ctx.publisher()?.event(toEventPayload(e));
    // Only what reached the outbox counts: a dropped event (full disk) is counted as dropped there.
    if (stored?.ok) this.ctx.metrics.events.inc({ camera: this.name, type: e.type });
  }

  /** Handles one scored frame; `receivedAt` is when its result came back from the worker. */
  async handle(s: ScoredFrame, receivedAt: number): Promise<void> {
    const prompts = this.ctx.prompts();
    const { frame } = s;
    const combined = combineScores(s.scores, prompts.scorers, this.ctx.scorers);
    const calibration = this.tuning.threshold === null ? combined.scale : { ...combined.scale, threshold: this.tuning.threshold };
    const map = { values: combined.map, width: frame.width, height: frame.height };
    const scores = rawScores(s.scores, this.detector.ignoreFor(map, frame.source));
    const { verdict, event } = this.detector.process(frame.ts, map, frame.source, calibration);
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

    const wantMask = this.ctx.publishMasks === 'always' || (this.ctx.publishMasks === 'on_anomaly' && verdict.anomalous);
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

  /** The latest frame as PNG, for `snapshot`. */
  async snapshotPng(): Promise<{ png: Buffer; frameId: number; ts: number; score: number; anomalous: boolean } | null> {
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

  snapshot(): CameraSnapshot {
    const prompts = this.ctx.prompts();
    return {
      name: this.name,
      status: this.status.state,
      ...(this.status.reason ? { status_reason: this.status.reason } : {}),
      frame_id: this.latest?.frame.frameId ?? null,
      score: this.latest?.score ?? null,
      scores: this.latest?.scores ?? null,
      threshold: this.latest?.threshold ?? null,
      anomalous: this.latest?.anomalous ?? false,
      prompt_set: prompts.id,
      history: this.history.slice(),
      overlay_box: null,
    };
  }
}

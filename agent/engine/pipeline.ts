// Camera slots -> inference worker. Frames from cameras that are ready together go in one batch;
// while a batch runs, newer frames replace older ones in their slots (latest frame wins). Each
// frame carries where its result goes, so results need no lookup by camera name.
// A batch's results are handed over (detector, events, mask PNGs, MQTT) on the next turn of the
// event loop, after the next batch has gone to the worker: that work overlaps inference instead
// of leaving the worker idle while it runs.
import type { Frame } from '../camera/frame.ts';
import { FrameSlot } from '../camera/frame-slot.ts';
import type { ScorerName, ScorerOutputs } from '../scoring/scorer.ts';
import type { Engine, InferenceBatch } from './engine.ts';
import type { FrameOutput } from './protocol.ts';

export interface ScoredFrame {
  frame: Frame;
  /** Each scorer's map (at the model input size, row-major) and raw score. */
  scores: ScorerOutputs;
  latencyMs: { pre: number; infer: number };
}

/** Receives the scored frame; called once per frame that made it into a batch. */
export type DeliverScored = (s: ScoredFrame) => void;

interface WaitingFrame {
  frame: Frame;
  deliver: DeliverScored;
}

export class InferencePipeline {
  private readonly slots = new Map<string, FrameSlot<WaitingFrame>>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  /** The last batch's hand-over, which stop() waits for so that no scored frame is lost. */
  private delivering: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  readonly inferMs: number[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly onError: (e: Error) => void,
  ) {}

  /** Frames of `camera` replaced by a newer one before they were scored. */
  skipped(camera: string): number {
    return this.slot(camera).dropped;
  }

  private slot(camera: string): FrameSlot<WaitingFrame> {
    let s = this.slots.get(camera);
    if (!s) {
      s = new FrameSlot<WaitingFrame>();
      this.slots.set(camera, s);
    }
    return s;
  }

  offer(frame: Frame, deliver: DeliverScored): void {
    this.slot(frame.camera).put({ frame, deliver });
    this.wake?.();
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.delivering;
  }

  private async nextBatch(): Promise<WaitingFrame[]> {
    for (;;) {
      const batch = [...this.slots.values()].map((s) => s.tryTake()).filter((f): f is WaitingFrame => f !== undefined);
      if (batch.length || !this.running) return batch;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      const batch = await this.nextBatch();
      if (!batch.length) continue;
      try {
        // The pixel buffers move to the worker and come back with the results.
        const r = await this.engine.infer(batch.map((w) => w.frame.rgb.buffer as ArrayBuffer));
        this.inferMs.push(r.inferMs);
        if (this.inferMs.length > 512) this.inferMs.shift();
        // setImmediate runs after the pending microtasks, among them this loop taking the next
        // batch and posting it to the worker; and before that batch's reply can arrive, so
        // batches are still handed over in order.
        this.delivering = new Promise((resolve) => setImmediate(() => resolve(this.deliverAll(batch, r))));
      } catch (e) {
        this.onError(asError(e));
      }
    }
  }

  private deliverAll(batch: WaitingFrame[], r: InferenceBatch): void {
    r.outputs.forEach((o, i) => {
      const { frame, deliver } = batch[i];
      try {
        deliver({ frame: { ...frame, rgb: new Uint8Array(o.rgb) }, scores: scorerOutputs(o), latencyMs: { pre: r.preMs, infer: r.inferMs } });
      } catch (e) {
        this.onError(asError(e));
      }
    });
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function scorerOutputs(o: FrameOutput): ScorerOutputs {
  return Object.fromEntries(Object.entries(o.scores).map(([name, s]) => [name as ScorerName, { map: new Float32Array(s.map), rawScore: s.rawScore }]));
}

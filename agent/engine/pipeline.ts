// Camera slots -> inference worker. Frames from cameras that are ready together go in one batch;
// while a batch runs, newer frames replace older ones in their slots (latest frame wins).
import type { Frame } from '../camera/frame.ts';
import { FrameSlot } from '../camera/frame-slot.ts';
import type { ScorerName, ScorerOutputs } from '../scoring/scorer.ts';
import type { Engine } from './engine.ts';
import type { FrameOutput } from './protocol.ts';

export interface ScoredFrame {
  frame: Frame;
  /** Each scorer's map (at the model input size, row-major) and raw score. */
  scores: ScorerOutputs;
  latencyMs: { pre: number; infer: number };
  /** Frames scored together in this batch. */
  batchSize: number;
}

export class InferencePipeline {
  private readonly slots = new Map<string, FrameSlot<Frame>>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  readonly inferMs: number[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly onScored: (s: ScoredFrame) => void,
    private readonly onError: (e: Error) => void,
  ) {}

  slot(camera: string): FrameSlot<Frame> {
    let s = this.slots.get(camera);
    if (!s) {
      s = new FrameSlot<Frame>();
      this.slots.set(camera, s);
    }
    return s;
  }

  offer(frame: Frame): void {
    this.slot(frame.camera).put(frame);
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
  }

  private async nextBatch(): Promise<Frame[]> {
    for (;;) {
      const batch = [...this.slots.values()].map((s) => s.tryTake()).filter((f): f is Frame => f !== undefined);
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
        const r = await this.engine.infer(batch.map((f) => f.rgb.buffer as ArrayBuffer));
        this.inferMs.push(r.inferMs);
        if (this.inferMs.length > 512) this.inferMs.shift();
        r.outputs.forEach((o, i) => {
          const frame = { ...batch[i], rgb: new Uint8Array(o.rgb) };
          this.onScored({ frame, scores: scorerOutputs(o), latencyMs: { pre: r.preMs, infer: r.inferMs }, batchSize: batch.length });
        });
      } catch (e) {
        this.onError(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }
}

function scorerOutputs(o: FrameOutput): ScorerOutputs {
  return Object.fromEntries(Object.entries(o.scores).map(([name, s]) => [name as ScorerName, { map: new Float32Array(s.map), rawScore: s.rawScore }]));
}

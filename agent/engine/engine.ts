// Main-thread handle on the inference worker: typed, promise-based, one request in flight at a
// time per caller (the worker serialises them anyway).
import { Worker } from 'node:worker_threads';
import { setProviderEnvironment } from '../../models/runtime/provider-environment.ts';
import type { TensorrtStart } from '../../models/session.ts';
import type { ScorerStates } from '../scoring/scorer.ts';
import type { FrameOutput, VisionModelSpec, WorkerReply, WorkerRequest } from './protocol.ts';

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface InferenceBatch {
  outputs: FrameOutput[];
  preMs: number;
  inferMs: number;
}

export class Engine {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  provider = 'none';

  /** `onTensorrtStart`: a load is about to build (or load the cached) TensorRT engine. */
  constructor(private readonly onTensorrtStart: (start: TensorrtStart) => void = () => {}) {
    this.worker = new Worker(new URL('./inference-worker-entry.js', import.meta.url));
    this.worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'tensorrt-start') return this.onTensorrtStart({ graph: msg.graph, cached: msg.cached });
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(new Error(msg.message));
      else p.resolve(msg);
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', (code) => this.failAll(new Error(`inference worker exited with code ${code}`)));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private request(req: WithoutId<WorkerRequest>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Loads (or hot-swaps) the vision model; the previous one serves until the new one is ready. */
  async load(model: VisionModelSpec, scorers: ScorerStates): Promise<string> {
    // onnxruntime reads them from the process environment, which the worker's process.env is not.
    setProviderEnvironment(model.providers, model.settings);
    const r = await this.request({ type: 'load', model, scorers });
    if (r.type !== 'loaded') throw new Error(`unexpected reply ${r.type}`);
    this.provider = r.provider;
    return r.provider;
  }

  /** Swaps every scorer's state between two batches (a prompt set's text embeddings and the rest). */
  async setScorers(scorers: ScorerStates): Promise<void> {
    await this.request({ type: 'scorers', scorers });
  }

  /** Scores a batch of rgb24 frames at the model's input size; the buffers are transferred and come back in the outputs. */
  async infer(frames: ArrayBuffer[]): Promise<InferenceBatch> {
    const r = await this.request({ type: 'infer', frames }, frames);
    if (r.type !== 'inferred') throw new Error(`unexpected reply ${r.type}`);
    return { outputs: r.outputs, preMs: r.preMs, inferMs: r.inferMs };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

// The inference worker thread: owns the onnxruntime session (ORT's run() would otherwise block
// the event loop for a whole inference). Requests are handled one at a time, so a bundle or
// prompt swap lands between two batches and no frame is dropped by it.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { createSession, type TensorrtStart } from '../../models/session.ts';
import { toPixelValues } from '../../models/preprocess.ts';
import type { FrameOutput, VisionModelSpec, WorkerReply, WorkerRequest } from './protocol.ts';

interface Loaded {
  session: ort.InferenceSession;
  spec: VisionModelSpec;
  textEmbeds: ort.Tensor | null;
}

let current: Loaded | null = null;
let queue: Promise<void> = Promise.resolve();

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

function textTensor(embeds: Float32Array): ort.Tensor {
  return new ort.Tensor('float32', embeds, [2, embeds.length / 2]);
}

async function load(req: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  const { providers, threads, settings } = req.model;
  const onTensorrtStart = (start: TensorrtStart) => reply({ type: 'tensorrt-start', id: req.id, ...start });
  const { session, provider } = await createSession(req.model.visionPath, { providers, threads, settings, onTensorrtStart });
  const previous = current;
  current = { session, spec: req.model, textEmbeds: req.textEmbeds ? textTensor(req.textEmbeds) : null };
  await previous?.session.release();
  reply({ type: 'loaded', id: req.id, provider });
}

async function infer(req: Extract<WorkerRequest, { type: 'infer' }>): Promise<void> {
  if (!current) throw new Error('no model loaded');
  const { session, spec, textEmbeds } = current;
  const size = spec.imageSize;
  const t0 = performance.now();
  const pixels = new Float32Array(req.frames.length * 3 * size * size);
  req.frames.forEach((buf, b) => toPixelValues(new Uint8Array(buf), size, spec, pixels, b));
  const feeds: Record<string, ort.Tensor> = { pixel_values: new ort.Tensor('float32', pixels, [req.frames.length, 3, size, size]) };
  if (textEmbeds) feeds.text_embeds = textEmbeds;
  const t1 = performance.now();
  const out = await session.run(feeds, ['anomaly_map', 'anomaly_score']);
  const t2 = performance.now();
  const maps = out.anomaly_map.data as Float32Array;
  const scores = out.anomaly_score.data as Float32Array;
  const plane = size * size;
  const outputs: FrameOutput[] = req.frames.map((rgb, b) => ({
    rgb,
    map: maps.slice(b * plane, (b + 1) * plane).buffer,
    rawScore: scores[b],
  }));
  reply({ type: 'inferred', id: req.id, outputs, preMs: t1 - t0, inferMs: t2 - t1 }, outputs.flatMap((o) => [o.rgb, o.map]));
}

async function handle(req: WorkerRequest): Promise<void> {
  try {
    if (req.type === 'load') await load(req);
    else if (req.type === 'infer') await infer(req);
    else {
      if (!current) throw new Error('no model loaded');
      current.textEmbeds = textTensor(req.textEmbeds);
      reply({ type: 'ok', id: req.id });
    }
  } catch (e) {
    reply({ type: 'error', id: req.id, message: e instanceof Error ? e.message : String(e) });
  }
}

parentPort!.on('message', (req: WorkerRequest) => {
  queue = queue.then(() => handle(req));
});

// The inference worker thread: owns the onnxruntime session (ORT's run() would otherwise block
// the event loop for a whole inference). Requests are handled one at a time, so a bundle or
// prompt swap lands between two batches and no frame is dropped by it. The scorers (agent/scoring)
// say which inputs to feed and which outputs to fetch; the worker knows none of them by name.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { toPixelValues } from '../../models/preprocess.ts';
import { createSession, type TensorrtStart } from '../../models/session.ts';
import type { ScorerGraph, ScorerName, ScorerStates, TensorData } from '../scoring/scorer.ts';
import { SCORERS } from '../scoring/scorers.ts';
import type { FrameOutput, VisionModelSpec, WorkerReply, WorkerRequest } from './protocol.ts';

type ExtraGraph = Exclude<ScorerGraph, 'vision'>;

/** What the scorers in use feed and fetch per graph, prepared once per state swap. */
interface ScorerPlan {
  names: ScorerName[];
  feeds: Partial<Record<ScorerGraph, Record<string, ort.Tensor>>>;
  fetches: Partial<Record<ScorerGraph, string[]>>;
  /** The graphs after vision.onnx, in the order they run. */
  extraGraphs: ExtraGraph[];
}

interface Loaded {
  session: ort.InferenceSession;
  /** Sessions of the bundle's scorer graphs besides vision.onnx. */
  graphs: Partial<Record<ExtraGraph, ort.InferenceSession>>;
  spec: VisionModelSpec;
  plan: ScorerPlan;
}

let current: Loaded | null = null;
let queue: Promise<void> = Promise.resolve();

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

function planFor(states: ScorerStates): ScorerPlan {
  const names = (Object.keys(states) as ScorerName[]).filter((n) => states[n]);
  const plan: ScorerPlan = { names, feeds: {}, fetches: {}, extraGraphs: [] };
  const fetch = (graph: ScorerGraph, outputs: readonly string[]) => (plan.fetches[graph] = [...new Set([...(plan.fetches[graph] ?? []), ...outputs])]);
  for (const n of names) {
    const { graph, visionInputs, outputs } = SCORERS[n];
    const feeds = (plan.feeds[graph] ??= {});
    for (const [input, t] of Object.entries(states[n]!.feeds)) feeds[input] = new ort.Tensor('float32', t.data, t.dims);
    fetch(graph, outputs);
    if (graph !== 'vision') {
      fetch('vision', visionInputs);
      if (!plan.extraGraphs.includes(graph)) plan.extraGraphs.push(graph);
    }
  }
  return plan;
}

/** Runs the scorer graphs after vision.onnx, each fed the vision outputs it takes; all outputs by name. */
async function runExtraGraphs(loaded: Loaded, vision: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const all = { ...vision };
  for (const graph of loaded.plan.extraGraphs) {
    const session = loaded.graphs[graph];
    if (!session) throw new Error(`a scorer needs ${graph}.onnx, which the bundle does not have (rebuild it with linewatch model build)`);
    const fromVision = session.inputNames.filter((name) => name in vision);
    const feeds = { ...Object.fromEntries(fromVision.map((name) => [name, vision[name]])), ...loaded.plan.feeds[graph] };
    Object.assign(all, await session.run(feeds, loaded.plan.fetches[graph] ?? []));
  }
  return all;
}

function tensorData(t: ort.Tensor): TensorData {
  return { data: t.data as Float32Array, dims: [...t.dims] };
}

async function load(req: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  const { providers, threads, settings } = req.model;
  const onTensorrtStart = (start: TensorrtStart) => reply({ type: 'tensorrt-start', id: req.id, ...start });
  const { session, provider } = await createSession(req.model.visionPath, { providers, threads, settings, onTensorrtStart });
  const graphs: Loaded['graphs'] = {};
  for (const [graph, file] of Object.entries(req.model.scorerGraphs) as [ExtraGraph, string][]) {
    graphs[graph] = (await createSession(file, { providers, threads, settings, onTensorrtStart })).session;
  }
  const previous = current;
  current = { session, graphs, spec: req.model, plan: planFor(req.scorers) };
  await previous?.session.release();
  for (const s of Object.values(previous?.graphs ?? {})) await s.release();
  reply({ type: 'loaded', id: req.id, provider });
}

async function infer(req: Extract<WorkerRequest, { type: 'infer' }>): Promise<void> {
  if (!current) throw new Error('no model loaded');
  const loaded = current;
  const { session, spec, plan } = loaded;
  const size = spec.imageSize;
  const t0 = performance.now();
  const pixels = new Float32Array(req.frames.length * 3 * size * size);
  req.frames.forEach((buf, b) => toPixelValues(new Uint8Array(buf), size, spec, pixels, b));
  const feeds = { ...plan.feeds.vision, pixel_values: new ort.Tensor('float32', pixels, [req.frames.length, 3, size, size]) };
  const t1 = performance.now();
  const run = await runExtraGraphs(loaded, await session.run(feeds, plan.fetches.vision ?? []));
  const t2 = performance.now();
  const out = Object.fromEntries(Object.entries(run).map(([name, t]) => [name, tensorData(t)]));
  const outputs: FrameOutput[] = req.frames.map((rgb, b) => ({
    rgb,
    scores: Object.fromEntries(
      plan.names.map((n) => {
        const { map, rawScore } = SCORERS[n].toMap(out, b);
        return [n, { map: map.buffer as ArrayBuffer, rawScore }];
      }),
    ),
  }));
  const maps = outputs.flatMap((o) => Object.values(o.scores).map((s) => s.map));
  reply({ type: 'inferred', id: req.id, outputs, preMs: t1 - t0, inferMs: t2 - t1 }, [...outputs.map((o) => o.rgb), ...maps]);
}

async function handle(req: WorkerRequest): Promise<void> {
  try {
    if (req.type === 'load') await load(req);
    else if (req.type === 'infer') await infer(req);
    else {
      if (!current) throw new Error('no model loaded');
      current.plan = planFor(req.scorers);
      reply({ type: 'ok', id: req.id });
    }
  } catch (e) {
    reply({ type: 'error', id: req.id, message: e instanceof Error ? e.message : String(e) });
  }
}

parentPort!.on('message', (req: WorkerRequest) => {
  queue = queue.then(() => handle(req));
});

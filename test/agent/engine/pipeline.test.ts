// The inference worker and the batching pipeline on a real onnxruntime session (tiny bundle):
// cameras ready together share one batch, the newest frame wins, and prompt swaps change scores.
// The prompt scorer's map and score are held to values recorded from the pipeline before the
// scorer seam existed (the worker then fetched anomaly_map / anomaly_score itself). The memory
// scorer runs memory.onnx on the same batch's patch_embeds.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame } from '../../../agent/camera/frame.ts';
import { Engine } from '../../../agent/engine/engine.ts';
import { InferencePipeline, type ScoredFrame } from '../../../agent/engine/pipeline.ts';
import { memoryScorer } from '../../../agent/scoring/memory-scorer.ts';
import { promptScorerState } from '../../../agent/scoring/prompt-scorer.ts';
import type { ScorerState } from '../../../agent/scoring/scorer.ts';
import { buildBundle } from '../../../models/bundle/build.ts';
import { type Bundle, loadBundle } from '../../../models/bundle/load.ts';
import { DEFAULT_PROVIDER_SETTINGS } from '../../../models/runtime/execution-providers.ts';
import { buildMemoryBank, DEFAULT_MAX_PATCHES } from '../../../tuning/memory-bank.ts';
import type { PromptSet } from '../../../tuning/prompt-set.ts';
import { VisionFeatures } from '../../../tuning/vision-features.ts';
import { TINY_CLIP } from '../../support/paths.ts';

const FIXTURE = TINY_CLIP;
const SCALE = { min: 0, max: 1, threshold: 0.5 };
let bundle: Bundle;
let engine: Engine;

before(async () => {
  const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'lw-pipeline-')), 'bundle');
  assert.ok((await buildBundle({ weights: FIXTURE, out })).ok);
  const loaded = await loadBundle(out);
  assert.ok(loaded.ok);
  bundle = loaded.value;
  engine = new Engine();
  const m = bundle.manifest;
  const text = Float32Array.from({ length: 2 * m.embedDim }, (_, i) => Math.sin(i));
  await engine.load(
    {
      visionPath: bundle.paths.vision,
      imageSize: m.vision.imageSize,
      mean: m.preprocess.mean,
      std: m.preprocess.std,
      providers: ['cpu'],
      threads: 1,
      settings: DEFAULT_PROVIDER_SETTINGS,
      scorerGraphs: { memory: bundle.paths.memory! },
    },
    { prompt: promptScorerState(text, SCALE) },
  );
});
after(() => engine.close());

function frame(camera: string, frameId: number, value: number): Frame {
  const size = bundle.manifest.vision.imageSize;
  const rgb = new Uint8Array(size * size * 3).map((_, i) => (value + i * 7) % 256);
  return { camera, frameId, ts: Date.now(), width: size, height: size, rgb, source: { width: size, height: size, roi: null } };
}

function collect(pipeline: () => InferencePipeline, n: number, scored: ScoredFrame[]): Promise<void> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (scored.length >= n) {
        clearInterval(check);
        void pipeline().stop().then(resolve);
      }
    }, 10);
  });
}

async function scoreOne(value: number): Promise<ScoredFrame> {
  const scored: ScoredFrame[] = [];
  const p = new InferencePipeline(engine, (e) => assert.fail(e));
  p.offer(frame('a', 1, value), (s) => scored.push(s));
  p.start();
  await collect(() => p, 1, scored);
  return scored[0];
}

/** Within 1e-5, or 1e-6 of the value for large ones (a sum over 50,176 pixels rounds differently on other CPUs' SIMD paths). */
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < Math.max(1e-5, 1e-6 * Math.abs(b)), `${what}: ${a} != ${b}`);

test('frames of cameras ready together go in one batch; a newer frame replaces one waiting', async () => {
  const scored: ScoredFrame[] = [];
  // Records the size of every batch the pipeline hands the worker.
  const batches: number[] = [];
  const counting = Object.create(engine, {
    infer: { value: (frames: ArrayBuffer[]) => (batches.push(frames.length), engine.infer(frames)) },
  }) as Engine;
  const p = new InferencePipeline(counting, (e) => assert.fail(e));
  const deliver = (s: ScoredFrame) => scored.push(s);
  p.offer(frame('a', 1, 10), deliver);
  p.offer(frame('a', 2, 20), deliver);
  p.offer(frame('a', 3, 30), deliver);
  p.offer(frame('b', 1, 40), deliver);
  p.start();
  await collect(() => p, 2, scored);
  assert.deepEqual(
    scored.map((s) => [s.frame.camera, s.frame.frameId]),
    [
      ['a', 3],
      ['b', 1],
    ],
  );
  assert.deepEqual(batches, [2], 'both cameras in one batch');
  assert.equal(p.skipped('a'), 2);
  assert.equal(p.skipped('b'), 0);
  const size = bundle.manifest.vision.imageSize;
  for (const s of scored) {
    const prompt = s.scores.prompt!;
    assert.equal(prompt.map.length, size * size);
    assert.equal(prompt.rawScore, Math.max(...prompt.map), 'the score is the map maximum');
    assert.deepEqual(s.frame.rgb, frame(s.frame.camera, 0, s.frame.camera === 'a' ? 30 : 40).rgb, 'the pixels come back from the worker');
  }
});

test("the next batch goes to the worker before the previous batch's results are handed over", async () => {
  const events: string[] = [];
  let p: InferencePipeline;
  let batches = 0;
  const recording = Object.create(engine, {
    infer: {
      value: (frames: ArrayBuffer[]) => {
        events.push(`infer ${++batches}`);
        // a newer frame arrives while the first batch runs
        if (batches === 1) p.offer(frame('a', 2, 20), deliver);
        return engine.infer(frames);
      },
    },
  }) as Engine;
  const scored: ScoredFrame[] = [];
  const deliver = (s: ScoredFrame) => (events.push(`deliver ${s.frame.frameId}`), scored.push(s));
  p = new InferencePipeline(recording, (e) => assert.fail(e));
  p.offer(frame('a', 1, 10), deliver);
  p.start();
  await collect(() => p, 2, scored);
  assert.deepEqual(events, ['infer 1', 'infer 2', 'deliver 1', 'deliver 2']);
});

test('the prompt scorer gives the map and score the pipeline gave before the scorer seam', async () => {
  const { map, rawScore } = (await scoreOne(99)).scores.prompt!;
  // Recorded on the tiny fixture with text embeddings sin(i), frame value 99, one CPU thread.
  close(rawScore, 0.6851361989974976, 'anomaly_score');
  assert.equal(map.indexOf(rawScore), 1152, 'where the maximum lies');
  close(
    map.reduce((a, b) => a + b, 0),
    409.964859866639,
    'sum of the map',
  );
  [0.6415272951126099, 0.635640561580658, 0.6181173920631409, 0.5894585847854614].forEach((v, k) => close(map[k], v, `map[${k}]`));
});

test('swapping the scorer states changes the scores of the same frame', async () => {
  const before = (await scoreOne(99)).scores.prompt!.rawScore;
  assert.equal((await scoreOne(99)).scores.prompt!.rawScore, before, 'same prompts, same frame: same score');
  const E = bundle.manifest.embedDim;
  await engine.setScorers({
    prompt: promptScorerState(
      Float32Array.from({ length: 2 * E }, (_, i) => (i < E ? 1 : -1) * Math.cos(i)),
      SCALE,
    ),
  });
  // Recorded as above, after the swap to cos(i) / -cos(i).
  close((await scoreOne(99)).scores.prompt!.rawScore, 0.9999884366989136, 'score after the swap');
});

/** The memory scorer's state for a bank of the given frames' own patches. */
async function memoryStateOf(values: number[]): Promise<ScorerState> {
  const vision = await VisionFeatures.open(bundle, { providers: ['cpu'] });
  try {
    const images = values.map((v) => ({ width: vision.size, height: vision.size, data: frame('a', 0, v).rgb }));
    const out = await vision.run(images, new Float32Array(2 * vision.embedDim).fill(1), { patchEmbeds: true });
    const layout = { layers: vision.layers, patches: vision.patches, embedDim: vision.embedDim };
    const { bank } = buildMemoryBank(
      out.patchEmbeds!,
      values.map((_, i) => i),
      layout,
      { maxPatches: DEFAULT_MAX_PATCHES, seed: 0 },
    );
    const set = { memory: { calibration: { min: 0, max: 0.2, threshold: 0.5, targetFpr: 0.005 } } } as PromptSet;
    const state = await memoryScorer.load({ set, path: '', memory: bank });
    assert.ok(state.ok && state.value);
    return state.value;
  } finally {
    await vision.release();
  }
}

test('the memory scorer runs on memory.onnx beside the prompt scorer; one swap replaces both states', async () => {
  const E = bundle.manifest.embedDim;
  const prompt = promptScorerState(
    Float32Array.from({ length: 2 * E }, (_, i) => Math.sin(i)),
    SCALE,
  );
  await engine.setScorers({ prompt, memory: await memoryStateOf([99]) });
  const inBank = (await scoreOne(99)).scores;
  assert.equal(inBank.memory!.rawScore, 0, 'a frame whose patches are the bank scores the floor');
  assert.ok(inBank.memory!.map.every((v) => v === 0));
  close(inBank.prompt!.rawScore, 0.6851361989974976, 'the prompt score is unchanged by the memory running beside it');
  const other = (await scoreOne(10)).scores;
  assert.ok(other.memory!.rawScore > 0, 'a frame unlike the bank scores above the floor');
  assert.equal(other.memory!.rawScore, Math.max(...other.memory!.map));

  await engine.setScorers({ prompt, memory: await memoryStateOf([10]) });
  assert.equal((await scoreOne(10)).scores.memory!.rawScore, 0, 'the new bank is in use from the next batch');
  await engine.setScorers({ prompt });
  assert.deepEqual(Object.keys((await scoreOne(10)).scores), ['prompt'], 'without a memory state the memory scorer does not run');
});

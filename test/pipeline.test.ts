// The inference worker and the batching pipeline on a real onnxruntime session (tiny bundle):
// cameras ready together share one batch, the newest frame wins, and prompt swaps change scores.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame } from '../agent/camera/frame.ts';
import { Engine } from '../agent/engine/engine.ts';
import { InferencePipeline, type ScoredFrame } from '../agent/engine/pipeline.ts';
import { buildBundle } from '../models/bundle/build.ts';
import { loadBundle, type Bundle } from '../models/bundle/load.ts';
import { DEFAULT_PROVIDER_SETTINGS } from '../models/runtime/execution-providers.ts';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/clip-tiny');
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
  await engine.load({ visionPath: bundle.paths.vision, imageSize: m.vision.imageSize, mean: m.preprocess.mean, std: m.preprocess.std, providers: ['cpu'], threads: 1, settings: DEFAULT_PROVIDER_SETTINGS }, text);
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

test('frames of cameras ready together go in one batch; a newer frame replaces one waiting', async () => {
  const scored: ScoredFrame[] = [];
  const p = new InferencePipeline(engine, (s) => scored.push(s), (e) => assert.fail(e));
  p.offer(frame('a', 1, 10));
  p.offer(frame('a', 2, 20));
  p.offer(frame('a', 3, 30));
  p.offer(frame('b', 1, 40));
  p.start();
  await collect(() => p, 2, scored);
  assert.deepEqual(scored.map((s) => [s.frame.camera, s.frame.frameId, s.batchSize]), [['a', 3, 2], ['b', 1, 2]]);
  assert.equal(p.slot('a').dropped, 2);
  assert.equal(p.slot('b').dropped, 0);
  const size = bundle.manifest.vision.imageSize;
  for (const s of scored) {
    assert.equal(s.map.length, size * size);
    assert.equal(s.rawScore, Math.max(...s.map), 'the score is the map maximum');
    assert.deepEqual(s.frame.rgb, frame(s.frame.camera, 0, s.frame.camera === 'a' ? 30 : 40).rgb, 'the pixels come back from the worker');
  }
});

test('swapping the text embeddings changes the scores of the same frame', async () => {
  const run = async () => {
    const scored: ScoredFrame[] = [];
    const p = new InferencePipeline(engine, (s) => scored.push(s), (e) => assert.fail(e));
    p.offer(frame('a', 1, 99));
    p.start();
    await collect(() => p, 1, scored);
    return scored[0].rawScore;
  };
  const before = await run();
  assert.equal(await run(), before, 'same prompts, same frame: same score');
  const E = bundle.manifest.embedDim;
  await engine.setTextEmbeds(Float32Array.from({ length: 2 * E }, (_, i) => (i < E ? 1 : -1) * Math.cos(i)));
  assert.notEqual(await run(), before);
});

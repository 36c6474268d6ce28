// The in-graph nearest-neighbour search of memory.onnx against a brute-force TypeScript
// reference (float64 cosine similarities, every bank row visited) on random banks of several
// sizes, batch 1 and 4, layers of unequal lengths (padded in packBank). The map pipeline after the
// search is the prompt head's (patchScoreMap), run on the reference distances in a second graph,
// so the comparison covers memory.onnx end to end.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { buildMemoryGraph, MEMORY_INPUTS, MEMORY_OUTPUTS, SIMILARITY_TOLERANCE } from '../../../models/graphs/memory.ts';
import { patchScoreMap } from '../../../models/graphs/vision.ts';
import { GraphBuilder } from '../../../models/onnx/graph-builder.ts';
import { type MemoryBank, normaliseRows, packBank } from '../../../tuning/memory-bank.ts';
import { createRng } from '../../../tuning/rng.ts';

const K = 2;
const GRID = 4;
const N = GRID * GRID;
const E = 24;
const SIZE = 32;

let work: string;
let memory: ort.InferenceSession;
let mapOfDistances: ort.InferenceSession;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-memory-graph-'));
  const g = new GraphBuilder('memory');
  buildMemoryGraph(g, { layers: K, grid: GRID, embedDim: E, imageSize: SIZE });
  await fs.writeFile(path.join(work, 'memory.onnx'), g.encode());
  const r = new GraphBuilder('reference-map');
  const distances = r.input('distances', 'float32', ['B', K, N, 1]);
  const head = patchScoreMap(r, distances, GRID, SIZE);
  r.output(head.map, 'map', 'float32', ['B', SIZE, SIZE]);
  r.output(head.score, 'score', 'float32', ['B']);
  await fs.writeFile(path.join(work, 'reference.onnx'), r.encode());
  memory = await ort.InferenceSession.create(path.join(work, 'memory.onnx'));
  mapOfDistances = await ort.InferenceSession.create(path.join(work, 'reference.onnx'));
});

after(async () => {
  await memory?.release();
  await mapOfDistances?.release();
  await fs.rm(work, { recursive: true, force: true });
});

/** Unit-less random rows (patches: the graph normalises them). */
function randomRows(rng: ReturnType<typeof createRng>, count: number): Float32Array {
  return Float32Array.from({ length: count * E }, () => rng.normal() * 3);
}

/** Bank rows: the graph takes them as unit rows, as tuning builds them. */
function unitRows(rows: Float32Array): Float32Array {
  const unit = rows.slice();
  normaliseRows(unit, E);
  return unit;
}

/** max(0, 1 - tolerance - max_j cos(patch, bank_j)) per (b, k, n), in float64. */
function bruteForceDistances(patches: Float32Array, batch: number, bank: MemoryBank): Float32Array {
  const out = new Float32Array(batch * K * N);
  const norm = (a: Float32Array, o: number) => Math.sqrt(Array.from(a.subarray(o, o + E)).reduce((s, v) => s + v * v, 0));
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < K; k++) {
      const rows = bank.layers[k];
      for (let n = 0; n < N; n++) {
        const p = ((b * K + k) * N + n) * E;
        let best = -Infinity;
        for (let r = 0; r < rows.length / E; r++) {
          let dot = 0;
          for (let e = 0; e < E; e++) dot += patches[p + e] * rows[r * E + e];
          best = Math.max(best, dot / (norm(patches, p) * norm(rows, r * E)));
        }
        out[(b * K + k) * N + n] = Math.max(0, 1 - SIMILARITY_TOLERANCE - best);
      }
    }
  }
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

for (const sizes of [
  [1, 1],
  [7, 3],
  [40, 40],
  [300, 57],
]) {
  for (const batch of [1, 4]) {
    test(`memory.onnx equals the brute-force search: bank rows ${sizes.join('/')}, batch ${batch}`, async () => {
      const rng = createRng(sizes[0] * 100 + sizes[1], batch);
      const bank: MemoryBank = { embedDim: E, layers: sizes.map((m) => unitRows(randomRows(rng, m))) };
      const patches = randomRows(rng, batch * K * N);
      const packed = packBank(bank);
      const out = await memory.run({
        [MEMORY_INPUTS.patches]: new ort.Tensor('float32', patches, [batch, K, N, E]),
        [MEMORY_INPUTS.bank]: new ort.Tensor('float32', packed.data, [K, packed.rows, E]),
      });
      const distances = bruteForceDistances(patches, batch, bank);
      const want = await mapOfDistances.run({ distances: new ort.Tensor('float32', distances, [batch, K, N, 1]) });
      const map = out[MEMORY_OUTPUTS.map].data as Float32Array;
      assert.ok(maxDiff(map, want.map.data as Float32Array) < 1e-5, `map differs by ${maxDiff(map, want.map.data as Float32Array)}`);
      assert.ok(maxDiff(out[MEMORY_OUTPUTS.score].data as Float32Array, want.score.data as Float32Array) < 1e-5);
      // random directions in 24 dimensions are far apart: the maps are not trivially zero
      assert.ok(Math.max(...(want.score.data as Float32Array)) > 0.1);
    });
  }
}

test('a bank that contains the patches themselves scores exactly 0 everywhere', async () => {
  const rng = createRng(5);
  const patches = randomRows(rng, 2 * K * N);
  // layer k of the bank: both images' layer-k patches plus unrelated rows
  const layer = (k: number) =>
    unitRows(
      Float32Array.from([...patches.subarray(k * N * E, (k + 1) * N * E), ...patches.subarray((K + k) * N * E, (K + k + 1) * N * E), ...randomRows(rng, 9)]),
    );
  const packed = packBank({ embedDim: E, layers: [layer(0), layer(1)] });
  const out = await memory.run({
    [MEMORY_INPUTS.patches]: new ort.Tensor('float32', patches, [2, K, N, E]),
    [MEMORY_INPUTS.bank]: new ort.Tensor('float32', packed.data, [K, packed.rows, E]),
  });
  assert.ok((out[MEMORY_OUTPUTS.map].data as Float32Array).every((v) => v === 0));
  assert.deepEqual(Array.from(out[MEMORY_OUTPUTS.score].data as Float32Array), [0, 0]);
});

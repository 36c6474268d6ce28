// The scorer seam: the table by type key, the prompt scorer's state and its reading of a batch,
// and the scorer states the agent loads from a real prompt store.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadActivePrompts, ZERO_SHOT_ID } from '../../../agent/model/active-prompts.ts';
import { memoryScorer } from '../../../agent/scoring/memory-scorer.ts';
import { promptScorer } from '../../../agent/scoring/prompt-scorer.ts';
import { SCORER_NAMES } from '../../../agent/scoring/scorer.ts';
import { SCORERS } from '../../../agent/scoring/scorers.ts';
import type { PromptSet } from '../../../tuning/prompt-set.ts';
import { PromptStore } from '../../../tuning/prompt-store.ts';
import type { Logger } from '../../../util/log.ts';

const BUNDLE = { id: 'tiny', sha256: 'ab'.repeat(32) };

function promptSet(): PromptSet {
  return {
    id: 'set-1',
    created: '2025-01-01T12:00:00.000Z',
    status: 'accepted',
    reasons: [],
    bundle: BUNDLE,
    tokens: { shared: [[0.5, -0.25]], normal: [[1, 2]], anomalous: [[3, 4]] },
    text_embeds: [
      [1, 2, 3],
      [4, 5, 6],
    ],
    calibration: { min: 0.1, max: 0.9, threshold: 0.7, targetFpr: 0.005 },
    metrics: { syntheticAuroc: 0.9, normalFpr: 0 },
    config: {},
    data: {},
  };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => {};
  return { warnings, debug: ignore, info: ignore, error: ignore, warn: (msg: string) => void warnings.push(msg) };
}

test('the table holds one scorer per type key, under its own name', () => {
  assert.deepEqual(Object.keys(SCORERS).sort(), [...SCORER_NAMES].sort());
  for (const name of SCORER_NAMES) assert.equal(SCORERS[name].name, name);
  assert.equal(SCORERS.prompt, promptScorer);
  assert.equal(SCORERS.memory, memoryScorer);
  assert.deepEqual([SCORERS.prompt.graph, SCORERS.memory.graph], ['vision', 'memory']);
  assert.deepEqual(SCORERS.memory.visionInputs, ['patch_embeds'], "memory.onnx runs on the vision graph's patch embeddings");
});

test('the prompt scorer feeds the set text embeddings as text_embeds [2,E] and keeps its calibration', async () => {
  const state = await promptScorer.load({ set: promptSet(), path: '/nowhere/set-1.json', memory: null });
  assert.ok(state.ok && state.value);
  assert.deepEqual(Object.keys(state.value.feeds), ['text_embeds']);
  assert.deepEqual(state.value.feeds.text_embeds.dims, [2, 3]);
  assert.deepEqual([...state.value.feeds.text_embeds.data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(state.value.calibration, { min: 0.1, max: 0.9, threshold: 0.7, targetFpr: 0.005 });
});

test('the prompt scorer reads frame b of a batch from anomaly_map and anomaly_score', () => {
  // A batch of 2 frames of 2x2 maps.
  const outputs = {
    anomaly_map: { data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), dims: [2, 2, 2] },
    anomaly_score: { data: Float32Array.from([4, 8]), dims: [2] },
  };
  assert.deepEqual(promptScorer.outputs, ['anomaly_map', 'anomaly_score']);
  const second = promptScorer.toMap(outputs, 1);
  assert.deepEqual([...second.map], [5, 6, 7, 8]);
  assert.equal(second.rawScore, 8);
  assert.equal(second.map.byteLength, second.map.buffer.byteLength, 'its own buffer: transferable without the rest of the batch');
});

test('the agent loads a stored set into scorer states, and falls back to the meta prompts zero-shot', async () => {
  const store = new PromptStore(await mkdtemp(path.join(tmpdir(), 'lw-scoring-')));
  const meta = Float32Array.from([9, 9, 9, 8, 8, 8]);
  const log = recordingLogger();
  const source = { store, bundle: BUNDLE, scorers: SCORER_NAMES, metaTextEmbeds: async () => meta, log };
  try {
    const zeroShot = await loadActivePrompts(source);
    assert.equal(zeroShot.id, ZERO_SHOT_ID);
    assert.equal(zeroShot.tuned, false);
    assert.deepEqual([...zeroShot.scorers.prompt.feeds.text_embeds.data], [...meta]);
    assert.deepEqual(zeroShot.scorers.prompt.calibration, { min: 0, max: 1, threshold: 0.5 });

    assert.ok((await store.commit(promptSet())).ok);
    const tuned = await loadActivePrompts(source);
    assert.deepEqual([tuned.id, tuned.tuned], ['set-1', true]);
    assert.deepEqual([...tuned.scorers.prompt.feeds.text_embeds.data], [1, 2, 3, 4, 5, 6]);
    assert.equal(tuned.scorers.prompt.calibration.threshold, 0.7);

    const other = await loadActivePrompts({ ...source, bundle: { id: 'other', sha256: 'cd'.repeat(32) } });
    assert.equal(other.id, ZERO_SHOT_ID, 'a set tuned for another bundle does not fit');
    assert.match(log.warnings.join('\n'), /scoring with the meta prompts until a re-tune/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('the memory scorer feeds the bank as memory_bank [K,M,E], shorter layers padded; a set without a memory gives no state', async () => {
  const set = {
    ...promptSet(),
    memory: {
      file: 'set-1.memory.safetensors',
      sha256: 'cd'.repeat(32),
      layers: [2, 3],
      patches: [2, 1],
      max_patches: 20000,
      coreset: false,
      calibration: { min: 0, max: 0.4, threshold: 0.6, targetFpr: 0.005 },
    },
  };
  // layer 0: two unit rows, layer 1: one (padded with a copy of its first row)
  const memory = { embedDim: 2, layers: [Float32Array.from([1, 0, 0, 1]), Float32Array.from([0.6, 0.8])] };
  const state = await memoryScorer.load({ set, path: '/nowhere/set-1.json', memory });
  assert.ok(state.ok && state.value);
  assert.deepEqual(state.value.feeds.memory_bank.dims, [2, 2, 2]);
  assert.deepEqual(
    [...state.value.feeds.memory_bank.data].map((v) => Math.round(v * 10) / 10),
    [1, 0, 0, 1, 0.6, 0.8, 0.6, 0.8],
  );
  assert.equal(state.value.calibration.threshold, 0.6);
  const none = await memoryScorer.load({ set: promptSet(), path: '/nowhere/set-1.json', memory: null });
  assert.ok(none.ok && none.value === null);
  const second = memoryScorer.toMap(
    { memory_map: { data: Float32Array.from([0, 1, 2, 3]), dims: [2, 1, 2] }, memory_score: { data: Float32Array.from([1, 3]), dims: [2] } },
    1,
  );
  assert.deepEqual([[...second.map], second.rawScore], [[2, 3], 3]);
});

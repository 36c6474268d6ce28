import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anomalyProbabilities, promptLosses, unitPatchFeatures } from '../../tuning/losses.ts';
import { encodeMetaPrompts } from '../../tuning/meta-prompts.ts';
import { imageMetrics } from '../../tuning/metrics.ts';
import { assemblePrompts, gatherPromptGrad, initPromptTokens, promptEotIndex } from '../../tuning/prompt-learner.ts';
import { createRng } from '../../tuning/rng.ts';
import { type StepReport, type TrainData, trainPrompts } from '../../tuning/train.ts';
import { TinyTextEncoderDouble, tinyVocabulary } from '../support/tiny-text-encoder.ts';

const W = 8,
  E = 6,
  B = 8,
  K = 2,
  N = 9;

/** 4 normal images and 4 synthetic ones whose covered patches point along another direction. */
function syntheticData(): TrainData {
  const rng = createRng(42);
  const normalDir = Array.from({ length: E }, () => rng.normal());
  const defectDir = Array.from({ length: E }, () => rng.normal());
  const coverage = new Float32Array(B * N);
  const labels = new Float32Array(B);
  for (let b = 4; b < B; b++) {
    labels[b] = 1;
    for (let j = 0; j < 2 + (b % 2); j++) coverage[b * N + ((b * 3 + j * 4) % N)] = 1;
  }
  const raw = new Float32Array(B * K * N * E);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let n = 0; n < N; n++) {
        const dir = coverage[b * N + n] ? defectDir : normalDir;
        for (let e = 0; e < E; e++) raw[((b * K + k) * N + n) * E + e] = dir[e] + 0.4 * rng.normal();
      }
  return { features: unitPatchFeatures(raw, B, K, N, E), targets: { coverage, labels } };
}

const options = { steps: 120, layout: { shared: 2, state: 2 }, adam: { lr: 0.05 } };

async function run(seed: number, guidance: 'mpts' | 'none' = 'mpts') {
  const encoder = new TinyTextEncoderDouble(W, 12, E, 16, 3);
  const vocab = tinyVocabulary(W);
  const meta = await encodeMetaPrompts(encoder, vocab);
  encoder.calls.length = 0;
  const reports: StepReport[] = [];
  const result = await trainPrompts(encoder, vocab, syntheticData(), meta, { ...options, seed, guidance, onProgress: (r) => reports.push(r) });
  return { result, reports, calls: encoder.calls };
}

test('training lowers the task loss and separates defect patches from normal ones', async () => {
  const data = syntheticData();
  const { result, reports } = await run(1);
  assert.deepEqual(
    reports.map((r) => r.step),
    Array.from({ length: 120 }, (_, i) => i + 1),
  );
  assert.ok(reports[119].task < 0.5 * reports[0].task, `task loss ${reports[0].task} -> ${reports[119].task}`);
  assert.ok(reports.every((r) => r.meta !== null && Number.isFinite(r.meta)));
  const q = anomalyProbabilities(data.features, result.textEmbeds);
  const labels = Array.from(q, (_, i) => data.targets.coverage[Math.floor(i / (K * N)) * N + (i % N)] > 0);
  const auroc = imageMetrics(q, labels);
  assert.ok(auroc.ok && auroc.value.auroc > 0.95, `patch AUROC ${auroc.ok ? auroc.value.auroc : auroc.error}`);
});

test('each step makes one encode (P=2) and ONE vjp with task and meta rows stacked (P=4)', async () => {
  const { calls, result } = await run(1);
  assert.equal(calls.length, 2 * 120 + 1);
  for (let s = 0; s < 120; s++) {
    assert.deepEqual(calls[2 * s], { kind: 'encode', P: 2, S: 6 });
    assert.deepEqual(calls[2 * s + 1], { kind: 'vjp', P: 4, S: 6 });
  }
  assert.deepEqual(calls[240], { kind: 'encode', P: 2, S: 6 });
  assert.ok(result.conflicts >= 0 && result.conflicts <= 120);
  const plain = await run(1, 'none');
  assert.ok(plain.calls.filter((c) => c.kind === 'vjp').every((c) => c.P === 2));
  assert.ok(plain.reports.every((r) => r.meta === null && !r.conflicting));
});

test('the same seed gives the same prompts; another seed gives others', async () => {
  const a = await run(7);
  const b = await run(7);
  const c = await run(8);
  assert.deepEqual(a.result.tokens.params, b.result.tokens.params);
  assert.deepEqual(a.result.textEmbeds, b.result.textEmbeds);
  assert.notDeepEqual(a.result.tokens.params, c.result.tokens.params);
});

test('the token gradient from vjp + scatter matches finite differences of the task loss', async () => {
  const data = syntheticData();
  const encoder = new TinyTextEncoderDouble(W, 12, E, 16, 3);
  const vocab = tinyVocabulary(W);
  const layout = { shared: 2, state: 2, width: W };
  const tokens = initPromptTokens(layout, vocab, { kind: 'random', std: 0.5 }, createRng(5));
  const lossAt = async (params: Float32Array) => {
    const text = await encoder.encode(assemblePrompts({ ...tokens, params }), 2, 6, promptEotIndex(layout));
    return promptLosses(data.features, data.targets, null, text);
  };
  const at = await lossAt(tokens.params);
  const grad = gatherPromptGrad(layout, await encoder.vjp(assemblePrompts(tokens), 2, 6, promptEotIndex(layout), Float32Array.from(at.task.grad)));
  for (let i = 0; i < grad.length; i++) {
    const h = 2e-3;
    const plus = new Float32Array(tokens.params);
    const minus = new Float32Array(tokens.params);
    plus[i] += h;
    minus[i] -= h;
    const fd = ((await lossAt(plus)).task.value - (await lossAt(minus)).task.value) / (2 * h);
    assert.ok(Math.abs(fd - grad[i]) < 1e-3 + 2e-2 * Math.abs(fd), `param ${i}: fd ${fd}, analytic ${grad[i]}`);
  }
});

test('a text encoder whose width does not match the features, or no images, is a clear error', async () => {
  const encoder = new TinyTextEncoderDouble(W, 12, E - 1, 16, 3);
  await assert.rejects(
    trainPrompts(encoder, tinyVocabulary(W), syntheticData(), null, { ...options, guidance: 'none' }),
    /text encoder output has 10 values, expected 2 x 6 .*bundle mismatch/,
  );
  await assert.rejects(trainPrompts(encoder, tinyVocabulary(W), syntheticData(), null, options), /MPTS needs the meta-prompt text embeddings/);
  const empty: TrainData = {
    features: unitPatchFeatures(new Float32Array(0), 0, K, N, E),
    targets: { coverage: new Float32Array(0), labels: new Float32Array(0) },
  };
  await assert.rejects(trainPrompts(encoder, tinyVocabulary(W), empty, null, { guidance: 'none' }), /at least one training image/);
});

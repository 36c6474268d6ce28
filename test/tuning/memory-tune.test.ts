// `tune` builds the memory bank with the prompts: the set's memory entry names a verified sidecar
// holding every patch of every training normal (below max_patches), with its own calibration; the
// gate judges the scorers of --scorers combined (metrics per scorer beside the combined ones), the
// current set measured with its own bank when it has one; a bundle built before memory.onnx
// existed still tunes, prompt-only, and says why.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MANIFEST_FILE } from '../../models/bundle/manifest.ts';
import { bankSizes } from '../../tuning/memory-bank.ts';
import { PromptStore } from '../../tuning/prompt-store.ts';
import { runTuneJob } from '../../tuning/tune-job.ts';
import { linewatch } from '../support/linewatch-cli.ts';
import { buildTinyBundle } from '../support/tiny-bundle.ts';
import { writeTexture } from '../support/tuning-fixtures.ts';

let work: string;
let bundleDir: string;
let normals: string;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-memory-tune-'));
  bundleDir = await buildTinyBundle(path.join(work, 'bundle'));
  normals = path.join(work, 'normals');
  for (let i = 0; i < 6; i++) await writeTexture(path.join(normals, `n${i}.png`), i + 40);
});

after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

test('tune stores a memory bank of every training patch beside the set, calibrated, and the store verifies it', async () => {
  const out = path.join(work, 'prompts');
  const result = await runTuneJob({ bundleDir, normals, outDir: out, steps: 3, seed: 1 });
  assert.ok(result.ok, result.ok ? '' : result.error);
  const { set } = result.value;
  assert.ok(set.memory);
  assert.equal(set.memory.file, `${set.id}.memory.safetensors`);
  const train = (set.data.train as string[]).length;
  assert.deepEqual(set.memory.patches, [train * 64, train * 64, train * 64, train * 64].slice(0, set.memory.layers.length));
  assert.equal(set.memory.coreset, false);
  assert.ok(set.memory.calibration.max > set.memory.calibration.min);
  assert.equal(typeof set.metrics.memory_synthetic_auroc, 'number');
  const store = new PromptStore(out);
  const bank = await store.readMemory(set);
  assert.ok(bank.ok && bank.value);
  assert.deepEqual(bankSizes(bank.value), set.memory.patches);
});

test('max_patches subsamples each layer by coreset', async () => {
  const result = await runTuneJob({ bundleDir, normals, outDir: path.join(work, 'prompts-small'), steps: 2, seed: 1, maxPatches: 50 });
  assert.ok(result.ok, result.ok ? '' : result.error);
  assert.equal(result.value.set.memory?.coreset, true);
  assert.ok(result.value.set.memory?.patches.every((p) => p === 50));
});

test('a bundle without memory.onnx tunes prompt-only, with a warning that says to rebuild', async () => {
  const old = path.join(work, 'old-bundle');
  await fs.cp(bundleDir, old, { recursive: true });
  const manifest = JSON.parse(await fs.readFile(path.join(old, MANIFEST_FILE), 'utf8'));
  delete manifest.files.memory;
  delete manifest.checksums['memory.onnx'];
  await fs.writeFile(path.join(old, MANIFEST_FILE), JSON.stringify(manifest));
  await fs.rm(path.join(old, 'memory.onnx'));
  const warnings: string[] = [];
  const result = await runTuneJob({ bundleDir: old, normals, outDir: path.join(work, 'prompts-old'), steps: 2, seed: 1, onWarning: (w) => warnings.push(w) });
  assert.ok(result.ok, result.ok ? '' : result.error);
  assert.equal(result.value.set.memory, undefined);
  assert.ok(
    warnings.some((w) => /has no memory\.onnx .*rebuild it with 'linewatch model build'/.test(w)),
    warnings.join('\n'),
  );
});

const JUDGED = ['synthetic_auroc', 'normal_fpr', 'synthetic_tpr'];

test("the gate judges prompts + memory combined: the set carries the combined metrics, each scorer's, and the scorers judged", async () => {
  const both = await runTuneJob({ bundleDir, normals, outDir: path.join(work, 'judged-both'), steps: 3, seed: 5 });
  assert.ok(both.ok, both.ok ? '' : both.error);
  const m = both.value.set.metrics;
  for (const key of [...JUDGED, ...JUDGED.map((k) => `prompt_${k}`), ...JUDGED.map((k) => `memory_${k}`)]) {
    assert.ok(Number.isFinite(m[key]) && m[key] >= 0 && m[key] <= 1, `${key}: ${m[key]}`);
  }
  assert.deepEqual(both.value.set.config.scorers, ['prompt', 'memory']);
  assert.equal(both.value.set.config.compared_scorers, null);
  assert.equal(both.value.status === 'accepted', m.normal_fpr <= 0.005, "the decision is the combined FPR's");

  // --scorers prompt: the same prompts and bank (same seed), judged on the prompts alone
  const promptOnly = await runTuneJob({ bundleDir, normals, outDir: path.join(work, 'judged-prompt'), steps: 3, seed: 5, scorers: ['prompt'] });
  assert.ok(promptOnly.ok, promptOnly.ok ? '' : promptOnly.error);
  const p = promptOnly.value.set.metrics;
  assert.deepEqual(promptOnly.value.set.config.scorers, ['prompt']);
  for (const key of JUDGED) {
    assert.equal(p[key], p[`prompt_${key}`], `${key} is the prompts' own`);
    assert.equal(p[`prompt_${key}`], m[`prompt_${key}`], `prompt_${key} does not depend on what is judged`);
    assert.equal(p[`memory_${key}`], m[`memory_${key}`], `memory_${key} does not depend on what is judged`);
  }
  assert.ok(promptOnly.value.set.memory, 'the bank is still built and stored');
});

test('the current set is measured with its own bank when it has one, prompt-only when it has none', async () => {
  const out = path.join(work, 'judged-current');
  // a lenient FPR target (one gate normal here), so that the first set is accepted and made current
  const first = await runTuneJob({ bundleDir, normals, outDir: out, steps: 3, seed: 3, targetFpr: 0.5 });
  assert.ok(first.ok && first.value.current, first.ok ? first.value.reasons.join() : first.error);
  const second = await runTuneJob({ bundleDir, normals, outDir: out, steps: 3, seed: 4, targetFpr: 0.5, activate: false });
  assert.ok(second.ok, second.ok ? '' : second.error);
  assert.equal(second.value.set.config.compared_with, first.value.set.id);
  assert.deepEqual(second.value.set.config.compared_scorers, ['prompt', 'memory']);
  const withBank = second.value.set.metrics;

  // the same current set without its memory entry: compared on its prompts alone
  const store = new PromptStore(out);
  const { memory: _, ...withoutMemory } = first.value.set;
  await store.write(withoutMemory);
  const third = await runTuneJob({ bundleDir, normals, outDir: out, steps: 3, seed: 4, targetFpr: 0.5, activate: false });
  assert.ok(third.ok, third.ok ? '' : third.error);
  assert.deepEqual(third.value.set.config.scorers, ['prompt', 'memory']);
  assert.deepEqual(third.value.set.config.compared_scorers, ['prompt']);
  const withoutBank = third.value.set.metrics;
  assert.equal(withoutBank.synthetic_auroc, withBank.synthetic_auroc, 'the same candidate');
  assert.notDeepEqual(
    [withoutBank.current_synthetic_auroc, withoutBank.current_normal_fpr],
    [withBank.current_synthetic_auroc, withBank.current_normal_fpr],
    'the current set measured prompt-only is measured differently',
  );
});

test('tune --scorers: the list is checked and a bad one refused, naming it', async () => {
  const out = path.join(work, 'bad-scorers');
  for (const bad of ['prompt,memroy', 'prompt,prompt', '']) {
    const r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals, '--out', out, '--scorers', bad);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`--scorers takes a comma-separated list of prompt, memory without repeats, not '${bad}'`), r.stderr);
  }
  assert.deepEqual(await fs.readdir(out).catch(() => []), [], 'nothing was written');
});

// `tune` builds the memory bank with the prompts: the set's memory entry names a verified sidecar
// holding every patch of every training normal (below max_patches), with its own calibration; a
// bundle built before memory.onnx existed still tunes, prompt-only, and says why.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { MANIFEST_FILE } from '../../models/bundle/manifest.ts';
import { bankSizes } from '../../tuning/memory-bank.ts';
import { PromptStore } from '../../tuning/prompt-store.ts';
import { runTuneJob } from '../../tuning/tune-job.ts';
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

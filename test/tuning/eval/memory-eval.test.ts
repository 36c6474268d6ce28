// `linewatch eval --scorer prompt|memory|both` on a small generated MVTec-AD-layout category with
// the tiny-CLIP bundle: every scorer's metrics in metrics.json and the report, scores.csv holding
// the chosen scorer's score (the memory scores recomputed here from the same shots), and the
// scorer runs agreeing with each other (both reports what the single-scorer runs report).

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadBundle } from '../../../models/bundle/load.ts';
import { chooseShots } from '../../../tuning/eval/evaluate-category.ts';
import { readRgbImages } from '../../../tuning/images.ts';
import { buildMemoryBank, DEFAULT_MAX_PATCHES } from '../../../tuning/memory-bank.ts';
import { MemorySearch } from '../../../tuning/memory-bank-search.ts';
import { VisionFeatures } from '../../../tuning/vision-features.ts';
import { linewatch } from '../../support/linewatch-cli.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';
import { writeTexture } from '../../support/tuning-fixtures.ts';

let work: string;
let bundleDir: string;
let category: string;

const KEYS = ['image_auroc', 'image_ap', 'image_f1max', 'pixel_auroc', 'pro', 'pixel_f1max'];

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-memory-eval-'));
  bundleDir = await buildTinyBundle(path.join(work, 'bundle'));
  category = path.join(work, 'data', 'widget');
  for (let i = 0; i < 4; i++) await writeTexture(path.join(category, 'train/good', `00${i}.png`), 100 + i);
  for (let i = 0; i < 3; i++) await writeTexture(path.join(category, 'test/good', `00${i}.png`), 200 + i);
  const boxes = [
    { x0: 10, y0: 12, x1: 22, y1: 20 },
    { x0: 40, y0: 30, x1: 50, y1: 44 },
  ];
  for (const [i, box] of boxes.entries())
    await writeTexture(path.join(category, 'test/hole', `00${i}.png`), 300 + i, 64, box, path.join(category, 'ground_truth/hole', `00${i}_mask.png`));
});

after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

async function evalWith(scorer: string | null) {
  const out = path.join(work, `out-${scorer ?? 'default'}`);
  const r = await linewatch(
    'eval',
    '--bundle',
    bundleDir,
    '--dataset',
    category,
    '--out',
    out,
    '--shots',
    '2',
    '--steps',
    '2',
    '--seed',
    '3',
    '--progress',
    'plain',
    ...(scorer ? ['--scorer', scorer] : []),
  );
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
  const csv = (await fs.readFile(path.join(out, 'scores.csv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
  return { metrics, csv, html };
}

test('eval reports every metric per scorer and scores.csv holds the chosen scorer', async () => {
  const both = await evalWith(null);
  const widget = both.metrics.categories.widget;
  assert.deepEqual(Object.keys(widget.scorers), ['prompt', 'memory', 'both']);
  for (const name of ['prompt', 'memory', 'both'])
    for (const k of KEYS) assert.ok(widget.scorers[name][k] >= 0 && widget.scorers[name][k] <= 1, `${name} ${k}`);
  for (const k of KEYS) assert.equal(widget[k], widget.scorers.both[k]);
  assert.deepEqual(Object.keys(both.metrics.mean.scorers), ['prompt', 'memory', 'both']);
  assert.match(both.metrics.settings.scorer, /^both/);
  for (const name of ['prompt', 'memory', 'both']) assert.ok(both.html.includes(`<h3>scorer: ${name}</h3>`), name);
  // the combined score is the maximum of a mean of two maps clipped to [0, 1]
  assert.ok(both.csv.every(([, , s]) => Number(s) >= 0 && Number(s) <= 1));

  const memory = await evalWith('memory');
  assert.deepEqual(Object.keys(memory.metrics.categories.widget.scorers), ['memory']);
  for (const k of KEYS) assert.equal(memory.metrics.categories.widget[k], widget.scorers.memory[k], k);
  assert.ok(!memory.html.includes('<h3>scorer:'));
  const prompt = await evalWith('prompt');
  for (const k of KEYS) assert.equal(prompt.metrics.categories.widget[k], widget.scorers.prompt[k], k);

  // scores.csv of the memory run: each test image against the bank of the same two shots
  const loaded = await loadBundle(bundleDir);
  assert.ok(loaded.ok);
  const vision = await VisionFeatures.open(loaded.value, { providers: ['cpu'] });
  const search = await MemorySearch.open(loaded.value, { providers: ['cpu'] });
  assert.ok(search.ok);
  try {
    const train = (await fs.readdir(path.join(category, 'train/good'))).map((f) => path.join(category, 'train/good', f));
    const shots = await readRgbImages(chooseShots(train, 2, 3), vision.size);
    const tests = await readRgbImages(
      memory.csv.map(([p]) => path.join(category, p)),
      vision.size,
    );
    assert.ok(shots.ok && tests.ok);
    const text = new Float32Array(2 * vision.embedDim);
    const shotEmbeds = (await vision.run(shots.value, text, { patchEmbeds: true })).patchEmbeds!;
    const bank = buildMemoryBank(
      shotEmbeds,
      [0, 1],
      { layers: vision.layers, patches: vision.patches, embedDim: vision.embedDim },
      { maxPatches: DEFAULT_MAX_PATCHES, seed: 3 },
    ).bank;
    const want = (await search.value.run((await vision.run(tests.value, text, { patchEmbeds: true })).patchEmbeds!, bank)).scores;
    memory.csv.forEach(([p, , s], i) => assert.ok(Math.abs(Number(s) - want[i]) < 1e-5, `${p}: ${s} vs ${want[i]}`));
    assert.ok(Math.max(...want) > 0);
  } finally {
    await vision.release();
    await search.value.release();
  }
});

test('--scorer takes only prompt, memory or both', async () => {
  const r = await linewatch('eval', '--bundle', bundleDir, '--dataset', category, '--out', path.join(work, 'bad'), '--scorer', 'patchcore');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /scorer/);
});

// `linewatch eval` end to end on a small MVTec-AD-layout dataset generated here (64 px textures,
// dark patches as defects with their masks), with the tiny-CLIP bundle.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chooseShots } from '../../../tuning/eval/evaluate-category.ts';
import { runTuneJob } from '../../../tuning/tune-job.ts';
import { linewatch } from '../../support/linewatch-cli.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';
import { type Box, writeTexture } from '../../support/tuning-fixtures.ts';

let work: string;
let bundleDir: string;
let root: string;

const DEFECTS: Record<string, Box[]> = {
  hole: [
    { x0: 10, y0: 12, x1: 22, y1: 20 },
    { x0: 40, y0: 30, x1: 50, y1: 44 },
  ],
  scratch: [
    { x0: 5, y0: 50, x1: 60, y1: 53 },
    { x0: 30, y0: 2, x1: 33, y1: 40 },
  ],
};

/** root/widget: train/good (4), test/good (3), test/{hole,scratch} (2 each) with ground truth. */
async function writeDataset(dir: string, name: string, withDefects = true): Promise<string> {
  const cat = path.join(dir, name);
  for (let i = 0; i < 4; i++) await writeTexture(path.join(cat, 'train/good', `${String(i).padStart(3, '0')}.png`), 100 + i);
  for (let i = 0; i < 3; i++) await writeTexture(path.join(cat, 'test/good', `${String(i).padStart(3, '0')}.png`), 200 + i);
  if (withDefects) {
    for (const [type, boxes] of Object.entries(DEFECTS)) {
      for (const [i, box] of boxes.entries()) {
        const stem = String(i).padStart(3, '0');
        await writeTexture(path.join(cat, 'test', type, `${stem}.png`), 300 + i, 64, box, path.join(cat, 'ground_truth', type, `${stem}_mask.png`));
      }
    }
  }
  return cat;
}

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-eval-'));
  bundleDir = await buildTinyBundle(path.join(work, 'bundle'));
  root = path.join(work, 'data');
  await writeDataset(root, 'widget');
  await writeDataset(root, 'gadget');
});

after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const KEYS = ['image_auroc', 'image_ap', 'image_f1max', 'pixel_auroc', 'pro', 'pixel_f1max'];

/** AUROC by counting pairs (ties half), independent of tuning/metrics.ts. */
function pairAuroc(rows: { label: number; score: number }[]): number {
  const pos = rows.filter((r) => r.label === 1);
  const neg = rows.filter((r) => r.label === 0);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p.score > n.score ? 1 : p.score === n.score ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

test('eval on one category folder writes metrics.json, scores.csv and a self-contained report.html', async () => {
  const out = path.join(work, 'out-one');
  const r = await linewatch(
    'eval',
    '--bundle',
    bundleDir,
    '--dataset',
    path.join(root, 'widget'),
    '--shots',
    '2',
    '--steps',
    '6',
    '--out',
    out,
    '--progress',
    'plain',
  );
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(Object.keys(metrics.categories), ['widget']);
  for (const scope of [metrics.categories.widget, metrics.mean]) {
    for (const k of KEYS) assert.ok(scope[k] >= 0 && scope[k] <= 1, `${k} = ${scope[k]}`);
  }
  for (const k of KEYS) assert.equal(metrics.mean[k], metrics.categories.widget[k]);
  assert.equal(metrics.categories.widget.test_images, 7);
  assert.equal(metrics.categories.widget.shots.length, 2);
  assert.ok(metrics.categories.widget.shots.every((s: string) => s.startsWith('train/good/')));
  for (const k of ['synthesis', 'features', 'steps', 'inference', 'metrics']) assert.ok(metrics.categories.widget.timings_s[k] >= 0, k);

  const csv = (await fs.readFile(path.join(out, 'scores.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'path,label,score');
  const rows = csv.slice(1).map((line) => {
    const [p, label, score] = line.split(',');
    return { path: p, label: Number(label), score: Number(score) };
  });
  assert.equal(rows.length, 7);
  for (const row of rows) {
    assert.equal(row.label, row.path.startsWith('test/good/') ? 0 : 1, row.path);
    assert.ok(Number.isFinite(row.score));
  }
  assert.ok(Math.abs(pairAuroc(rows) - metrics.categories.widget.image_auroc) < 1e-12);

  const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg /g) ?? []).length, 3); // image ROC, pixel ROC, PRO
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 7); // every test image (fewer than 12)
  assert.ok(!/src="(?!data:)/.test(html), 'nothing is loaded from outside the file');
  assert.match(r.stdout, /widget\s+0\.\d{4}/);
});

test('eval on a dataset root: all categories or the chosen ones, with the mean over them', async () => {
  const out = path.join(work, 'out-root');
  let r = await linewatch('eval', '--bundle', bundleDir, '--dataset', root, '--shots', '1', '--steps', '3', '--out', out, '--no-mpts', '--no-object-mask');
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(Object.keys(metrics.categories), ['gadget', 'widget']);
  for (const k of KEYS) assert.ok(Math.abs(metrics.mean[k] - (metrics.categories.gadget[k] + metrics.categories.widget[k]) / 2) < 1e-12, k);
  assert.equal(metrics.settings.guidance, 'none');
  assert.equal(metrics.settings.object_mask, false);
  const csv = (await fs.readFile(path.join(out, 'scores.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv.length, 1 + 14);
  assert.ok(csv.slice(1, 8).every((l) => l.startsWith('gadget/test/')));

  r = await linewatch(
    'eval',
    '--bundle',
    bundleDir,
    '--dataset',
    root,
    '--category',
    'widget',
    '--shots',
    '1',
    '--steps',
    '2',
    '--out',
    path.join(work, 'out-chosen'),
  );
  assert.equal(r.code, 0, r.stderr);
  const chosen = JSON.parse(await fs.readFile(path.join(work, 'out-chosen', 'metrics.json'), 'utf8'));
  assert.deepEqual(Object.keys(chosen.categories), ['widget']);

  r = await linewatch('eval', '--bundle', bundleDir, '--dataset', root, '--category', 'gizmo', '--out', path.join(work, 'out-none'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no category 'gizmo' \(it has gadget, widget\)/);
});

test('eval scores with a given prompt set, and refuses one tuned for another bundle', async () => {
  const store = path.join(work, 'store');
  const tuned = await runTuneJob({ bundleDir, normals: path.join(root, 'widget', 'train', 'good'), outDir: store, steps: 3 });
  assert.ok(tuned.ok, tuned.ok ? '' : tuned.error);
  const out = path.join(work, 'out-prompts');
  let r = await linewatch('eval', '--bundle', bundleDir, '--dataset', path.join(root, 'widget'), '--prompts', tuned.value.path, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
  assert.equal(metrics.settings.prompts, tuned.value.path);
  assert.deepEqual(metrics.categories.widget.shots, []);
  assert.equal(metrics.categories.widget.timings_s.steps, 0);

  const other = await buildTinyBundle(path.join(work, 'bundle-no-laa'), { laa: false });
  r = await linewatch(
    'eval',
    '--bundle',
    other,
    '--dataset',
    path.join(root, 'widget'),
    '--prompts',
    tuned.value.path,
    '--out',
    path.join(work, 'out-mismatch'),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /was tuned for bundle 'bundle'.*not for 'bundle-no-laa'/);

  await fs.writeFile(path.join(work, 'bad.json'), '{"id": 3}');
  r = await linewatch('eval', '--bundle', bundleDir, '--dataset', root, '--prompts', path.join(work, 'bad.json'), '--out', path.join(work, 'out-bad'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.json: key 'id'/);
});

test('eval fails clearly on a single-class test set, too many shots, a missing mask, bad options', async () => {
  const single = path.join(work, 'single');
  await writeDataset(single, 'plain', false);
  let r = await linewatch('eval', '--bundle', bundleDir, '--dataset', path.join(single, 'plain'), '--out', path.join(work, 'out-single'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /category plain: the test set has 3 good and 0 defective images; the metrics need both/);

  r = await linewatch('eval', '--bundle', bundleDir, '--dataset', path.join(root, 'widget'), '--shots', '9', '--out', path.join(work, 'out-shots'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /9 shots asked for, train\/good has 4 images/);

  const noMask = path.join(work, 'nomask');
  const cat = await writeDataset(noMask, 'thing');
  await fs.rm(path.join(cat, 'ground_truth', 'hole', '001_mask.png'));
  r = await linewatch('eval', '--bundle', bundleDir, '--dataset', cat, '--out', path.join(work, 'out-nomask'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /hole\/001\.png has no ground-truth mask .*001_mask\.png/);

  r = await linewatch('eval', '--bundle', bundleDir, '--dataset', path.join(work, 'bundle'), '--out', path.join(work, 'out-x'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /neither an MVTec-AD category \(no train\/good\) nor a folder of categories/);

  r = await linewatch('eval', '--bundle', bundleDir, '--dataset', root, '--out', path.join(work, 'out-y'), '--shots', '0');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--shots takes a whole number >= 1/);
});

test('shots are chosen by the seed, sorted, without repeats', () => {
  const train = Array.from({ length: 20 }, (_, i) => `t/${String(i).padStart(2, '0')}.png`);
  const a = chooseShots(train, 4, 1);
  assert.deepEqual(chooseShots(train, 4, 1), a);
  assert.equal(new Set(a).size, 4);
  assert.deepEqual([...a].sort(), a);
  assert.notDeepEqual(chooseShots(train, 4, 2), a);
  assert.deepEqual(chooseShots(train, 20, 3), train);
});

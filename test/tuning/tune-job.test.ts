// The tuning pipeline on real graphs (a bundle built from the tiny CLIP fixture): the ONNX text
// encoder against the canonical reference, vision runs, the normals split, determinism per seed,
// the `linewatch tune --progress json` contract the agent relies on, failures with clear
// messages, image folders (BMP included) and `linewatch synth`.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type Bundle, loadBundle } from '../../models/bundle/load.ts';
import { readSafetensors, tensorF32, tensorI64 } from '../../models/weights/safetensors.ts';
import { decodeBmp } from '../../tuning/image/bmp.ts';
import type { RgbImage } from '../../tuning/image/rgb-image.ts';
import { listImageFiles, readRgbImage } from '../../tuning/images.ts';
import { OnnxTextEncoder } from '../../tuning/onnx-text-encoder.ts';
import { PromptStore } from '../../tuning/prompt-store.ts';
import { runTuneJob, splitNormals } from '../../tuning/tune-job.ts';
import { VisionFeatures } from '../../tuning/vision-features.ts';
import { linewatch } from '../support/linewatch-cli.ts';
import { findExecutable } from '../support/mqtt-harness.ts';
import { REPO_ROOT, TINY_CLIP } from '../support/paths.ts';
import { buildTinyBundle } from '../support/tiny-bundle.ts';
import { writeTexture } from '../support/tuning-fixtures.ts';

let work: string;
let bundleDir: string;
let bundle: Bundle;
let normals: string;
/** Enough normals for 2 calibration normals, whose Gaussian bound keeps the gate FPR at 0 on any CPU. */
let nineNormals: string;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-tune-'));
  bundleDir = await buildTinyBundle(path.join(work, 'bundle'));
  const loaded = await loadBundle(bundleDir);
  assert.ok(loaded.ok);
  bundle = loaded.value;
  normals = path.join(work, 'normals');
  for (let i = 0; i < 5; i++) await writeTexture(path.join(normals, `n${i}.png`), i + 1);
  nineNormals = path.join(work, 'nine-normals');
  for (let i = 0; i < 9; i++) await writeTexture(path.join(nineNormals, `n${i}.png`), i + 20);
});

after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('the ONNX text encoder reproduces the reference embeddings and gradients, also cut after the end token', async () => {
  const ref = await readSafetensors(path.join(TINY_CLIP, 'reference.safetensors'));
  assert.ok(ref.ok);
  const x = tensorF32(ref.value, 'prompt_embeds'); // [2,77,128]
  const eot = tensorI64(ref.value, 'eot_index'); // 12, 7
  const want = tensorF32(ref.value, 'prompt_text_embeds');
  const encoder = await OnnxTextEncoder.open(bundle, { providers: ['cpu'] });
  try {
    assert.ok(maxDiff(await encoder.encode(x, 2, 77, eot), want) < 1e-5);
    assert.ok(maxDiff(await encoder.encode(x, 2, 77, Int32Array.from([12, 7])), want) < 1e-5);
    const grad = await encoder.vjp(x, 2, 77, eot, tensorF32(ref.value, 'upstream_grad'));
    const wantGrad = tensorF32(ref.value, 'prompt_grad');
    assert.ok(maxDiff(grad, wantGrad) / maxAbs(wantGrad) < 1e-4);
    // Tuning feeds prompts of exactly S = eot + 1 tokens: the causal model must not notice.
    for (const p of [0, 1]) {
      const S = Number(eot[p]) + 1;
      const cut = x.slice(p * 77 * 128, (p * 77 + S) * 128);
      const row = await encoder.encode(cut, 1, S, BigInt64Array.of(BigInt(S - 1)));
      assert.ok(maxDiff(row, want.subarray(p * 64, (p + 1) * 64)) < 1e-5, `prompt ${p} cut to ${S} tokens`);
    }
    await assert.rejects(encoder.encode(x, 2, 78, eot), /1\.\.77/);
    await assert.rejects(encoder.encode(x, 2, 77, BigInt64Array.of(3n, 77n)), /outside 0\.\.76/);
  } finally {
    await encoder.release();
  }
});

test('vision runs: batching does not change outputs, and each score is the maximum of its map', async () => {
  const vision = await VisionFeatures.open(bundle, { providers: ['cpu'] });
  try {
    const images: RgbImage[] = [];
    for (const name of ['n0.png', 'n1.png', 'n2.png']) {
      const img = await readRgbImage(path.join(normals, name), vision.size);
      assert.ok(img.ok);
      images.push(img.value);
    }
    const text = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i * 0.7));
    const together = await vision.run(images, text, { patchEmbeds: true, anomalyMaps: true, batchSize: 3 });
    const single = await vision.run(images, text, { patchEmbeds: true, anomalyMaps: true, batchSize: 1 });
    assert.equal(together.patchEmbeds!.length, 3 * 4 * 64 * 64); // B, K = 4 layers, N = 8x8, E = 64
    assert.ok(maxDiff(together.patchEmbeds!, single.patchEmbeds!) < 1e-5);
    assert.ok(maxDiff(together.anomalyMaps!, single.anomalyMaps!) < 1e-6);
    for (let b = 0; b < 3; b++) {
      const map = together.anomalyMaps!.subarray(b * 64 * 64, (b + 1) * 64 * 64);
      assert.equal(together.anomalyScores[b], maxAbs(map)); // probabilities are >= 0
    }
    const withoutMaps = await vision.run(images, text);
    assert.equal(withoutMaps.patchEmbeds, null);
    assert.equal(withoutMaps.anomalyMaps, null);
    assert.deepEqual(withoutMaps.anomalyScores, together.anomalyScores);
    await assert.rejects(vision.run(images, new Float32Array(10)), /2 x 64/);
  } finally {
    await vision.release();
  }
});

test('the normals split: train / calibration / gate are disjoint, cover every image, sized as documented', () => {
  const sizes = (n: number) => {
    const s = splitNormals(n, 7);
    const all = [...s.train, ...s.calibration, ...s.gate].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: n }, (_, i) => i),
    );
    return [s.train.length, s.calibration.length, s.gate.length];
  };
  assert.deepEqual(sizes(3), [1, 1, 1]);
  assert.deepEqual(sizes(5), [3, 1, 1]);
  assert.deepEqual(sizes(16), [11, 3, 2]);
  assert.deepEqual(sizes(64), [43, 11, 10]);
  assert.deepEqual(splitNormals(16, 7), splitNormals(16, 7));
  assert.notDeepEqual(splitNormals(16, 7), splitNormals(16, 8));
  assert.throws(() => splitNormals(2, 0), /at least 3/);
});

test('the same seed gives the same prompt set, bit for bit; another seed another one', async () => {
  const tune = async (seed: number, out: string) => {
    const r = await runTuneJob({ bundleDir, normals, outDir: path.join(work, out), steps: 12, seed });
    assert.ok(r.ok, r.ok ? '' : r.error);
    return r.value.set;
  };
  const a = await tune(3, 'seed-a');
  const b = await tune(3, 'seed-b');
  const c = await tune(4, 'seed-c');
  assert.notEqual(a.id, b.id);
  assert.deepEqual(b.tokens, a.tokens);
  assert.deepEqual(b.text_embeds, a.text_embeds);
  assert.deepEqual(b.calibration, a.calibration);
  assert.deepEqual(b.metrics, a.metrics);
  assert.deepEqual(b.data, { ...a.data });
  assert.notDeepEqual(c.tokens, a.tokens);
  assert.equal(a.tokens.shared.length, 4);
  assert.equal(a.tokens.normal.length, 4);
  assert.equal(a.tokens.shared[0].length, 128); // W of the tiny text model
  assert.equal(a.text_embeds[0].length, 64);
});

interface JsonLine {
  type: string;
  phase?: string;
  done?: number;
  total?: number;
  id?: string;
  path?: string;
  status?: string;
  metrics?: Record<string, number>;
  reason?: string;
}

const scriptCommand = findExecutable('script');

test('tune on a real terminal (a pty from util-linux script): a bar per phase redrawn in place, each ending at 100 %', {
  skip: scriptCommand ? false : 'script (util-linux) is not installed',
}, async () => {
  const out = path.join(work, 'store-tty');
  const command = [
    process.execPath,
    path.join(REPO_ROOT, 'bin/linewatch.js'),
    'tune',
    '--bundle',
    bundleDir,
    '--normals',
    normals,
    '--out',
    out,
    '--steps',
    '8',
    '--seed',
    '1',
  ]
    .map((a) => `'${a}'`)
    .join(' ');
  // script runs the command on a pseudo-terminal and copies what it shows (stdout and stderr) to its stdout
  const shown = await new Promise<string>((resolve, reject) =>
    execFile(scriptCommand!, ['-qefc', command, '/dev/null'], { maxBuffer: 1 << 24 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  const text = shown.replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(text, /\r(?!\n)/, 'the bar is redrawn in place (a carriage return without a newline)');
  for (const label of ['synthesis', 'features', 'prompt steps', 'calibration']) {
    assert.match(text, new RegExp(`\\r${label}\\s+\\[#{24}\\] 100%`), `${label} ends with a full bar`);
  }
  assert.doesNotMatch(text, /^(synthesis|features|prompt steps|calibration)\s+\d+%.*$/m, 'no plain progress lines on a terminal');
  assert.match(text, new RegExp(`${out.replaceAll('/', '\\/')}\\/[^\\s]+\\.json`), 'the prompt set path is printed');
});

test('tune --progress json: stdout holds only JSON lines, phases in order, then one result line', async () => {
  const out = path.join(work, 'store-json');
  const r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals, '--out', out, '--steps', '8', '--seed', '1', '--progress', 'json');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as JsonLine);
  const progress = lines.slice(0, -1);
  assert.ok(progress.every((l) => l.type === 'progress' && Number.isInteger(l.done) && Number.isInteger(l.total) && l.done! <= l.total!));
  const order = ['synthesis', 'features', 'steps', 'calibration'];
  const phases = progress.map((l) => l.phase!);
  assert.deepEqual([...new Set(phases)], order);
  assert.ok(
    phases.every((p, i) => i === 0 || order.indexOf(p) >= order.indexOf(phases[i - 1])),
    'phases never go back',
  );
  for (const phase of order) {
    const last = progress.filter((l) => l.phase === phase).at(-1)!;
    assert.equal(last.done, last.total, `${phase} ends complete`);
  }
  assert.equal(progress.filter((l) => l.phase === 'steps').length, 8);
  // 5 normals: 3 train (8 synthetic), 1 calibration + 1 gate (8 synthetic)
  assert.equal(progress.find((l) => l.phase === 'synthesis')!.total, 5 + 8 + 8);
  assert.equal(progress.find((l) => l.phase === 'calibration')!.total, 2 + 8);

  const result = lines.at(-1)!;
  assert.equal(result.type, 'result');
  assert.ok(result.status === 'accepted' || result.status === 'rejected');
  assert.ok(path.isAbsolute(result.path!));
  assert.equal(result.path, path.join(out, `${result.id}.json`));
  assert.ok(Object.values(result.metrics!).every((v) => typeof v === 'number' && Number.isFinite(v)));
  for (const key of ['synthetic_auroc', 'normal_fpr', 'synthetic_tpr', 'task_loss', 'meta_loss', 'conflicting_steps']) assert.ok(key in result.metrics!, key);
  const set = JSON.parse(await fs.readFile(result.path!, 'utf8'));
  assert.equal(set.id, result.id);
  assert.equal(set.status, result.status);
  if (result.status === 'accepted') assert.equal((await fs.readFile(path.join(out, 'current'), 'utf8')).trim(), result.id);
  else assert.equal(result.reason, set.reasons.join('; '));
});

test('a second run is gated against the current set measured on the same held-out images', async () => {
  const out = path.join(work, 'store-twice');
  const first = await runTuneJob({ bundleDir, normals: nineNormals, outDir: out, steps: 5, seed: 2 });
  assert.ok(first.ok, first.ok ? '' : first.error);
  assert.equal(first.value.set.config.compared_with, null);
  assert.ok(!('current_synthetic_auroc' in first.value.set.metrics));
  const current = await new PromptStore(out).loadCurrent();
  assert.ok(current.ok && current.value.set.id === first.value.set.id, `the first set was not made current: ${first.value.reasons.join('; ')}`);
  const second = await runTuneJob({ bundleDir, normals: nineNormals, outDir: out, steps: 5, seed: 9 });
  assert.ok(second.ok, second.ok ? '' : second.error);
  assert.equal(second.value.set.config.compared_with, first.value.set.id);
  const m = second.value.set.metrics;
  assert.ok(m.current_synthetic_auroc >= 0 && m.current_synthetic_auroc <= 1);
  assert.ok(m.current_normal_fpr >= 0 && m.current_normal_fpr <= 1);
  assert.equal(second.value.status === 'accepted', m.synthetic_auroc >= m.current_synthetic_auroc - 0.01 && m.normal_fpr <= 0.005);
});

test('tune fails clearly on an empty or too small normal set, an unreadable image, a missing folder, bad options', async () => {
  const empty = path.join(work, 'empty');
  await fs.mkdir(empty);
  const out = path.join(work, 'store-errors');
  let r = await linewatch('tune', '--bundle', bundleDir, '--normals', empty, '--out', out, '--progress', 'plain');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /at least 3 normal images .*found 0 in .*empty/);

  const two = path.join(work, 'two');
  await writeTexture(path.join(two, 'a.png'), 1);
  await writeTexture(path.join(two, 'b.jpg.png'), 2);
  r = await linewatch('tune', '--bundle', bundleDir, '--normals', two, '--out', out);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /found 2/);

  const broken = path.join(work, 'broken');
  for (let i = 0; i < 3; i++) await writeTexture(path.join(broken, `ok${i}.png`), i);
  await fs.writeFile(path.join(broken, 'torn.png'), Buffer.from('\x89PNG\r\n\x1a\n not really'));
  r = await linewatch('tune', '--bundle', bundleDir, '--normals', broken, '--out', out, '--progress', 'json');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /torn\.png: cannot be decoded as an image/);
  assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  assert.ok(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .every((l) => JSON.parse(l).type === 'progress'),
    'no result line on failure',
  );

  r = await linewatch('tune', '--bundle', bundleDir, '--normals', path.join(work, 'nope'), '--out', out);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nope does not exist/);

  r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals, '--out', out, '--stpes', '3');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--stpes'[\s\S]*usage: linewatch tune/);
  r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out is required/);
  r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals, '--out', out, '--progress', 'fancy');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--progress takes one of bar, plain, json/);
  assert.equal((await fs.readdir(out).catch(() => [])).length, 0, 'nothing was written');
});

test('tune refuses a bundle whose files fail their checksums, and re-tunes past a set for another bundle', async () => {
  const corrupt = path.join(work, 'corrupt-bundle');
  await fs.cp(bundleDir, corrupt, { recursive: true });
  const weights = path.join(corrupt, 'vision.weights');
  const bytes = await fs.readFile(weights);
  bytes[100] ^= 0xff;
  await fs.writeFile(weights, bytes);
  let r = await linewatch('tune', '--bundle', corrupt, '--normals', normals, '--out', path.join(work, 'store-corrupt'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /vision\.weights is corrupt or was modified/);

  // A store whose current set was tuned for another bundle (the agent after a bundle change):
  // the set is no comparison, the run goes on and says so.
  const other = await buildTinyBundle(path.join(work, 'bundle-no-laa'), { laa: false });
  const out = path.join(work, 'store-other-bundle');
  const first = await runTuneJob({ bundleDir: other, normals: nineNormals, outDir: out, steps: 3 });
  assert.ok(first.ok && first.value.status === 'accepted', first.ok ? first.value.reasons.join() : first.error);
  r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals, '--out', out, '--steps', '3', '--progress', 'json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`warning: prompt set ${first.value.set.id} was tuned for bundle 'bundle-no-laa'.*not for 'bundle'.*gated without comparing`),
  );
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  const set = JSON.parse(await fs.readFile(result.path, 'utf8'));
  assert.equal(set.config.compared_with, null);
  assert.notEqual(set.bundle.sha256, first.value.set.bundle.sha256);
});

test('image folders: sorted image files only, BMP decoded, unreadable files named', async () => {
  const dir = path.join(work, 'mixed');
  await fs.mkdir(dir);
  await writeTexture(path.join(dir, 'b.png'), 1);
  await fs.writeFile(path.join(dir, 'notes.txt'), 'not an image');
  await fs.mkdir(path.join(dir, 'sub.png'));
  // 2x2, 24-bit, bottom-up: rows are stored bottom row first, BGR, padded to 4 bytes.
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + 16, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  const pixels = Buffer.from([/* bottom row: blue, white */ 255, 0, 0, 255, 255, 255, 0, 0, /* top row: red, green */ 0, 0, 255, 0, 255, 0, 0, 0]);
  await fs.writeFile(path.join(dir, 'a.BMP'), Buffer.concat([header, pixels]));
  const files = await listImageFiles(dir);
  assert.ok(files.ok);
  assert.deepEqual(
    files.value.map((f) => path.basename(f)),
    ['a.BMP', 'b.png'],
  );
  const bmp = await readRgbImage(path.join(dir, 'a.BMP'));
  assert.ok(bmp.ok);
  assert.deepEqual([...bmp.value.data], [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]); // red, green / blue, white
  const resized = await readRgbImage(path.join(dir, 'a.BMP'), 4);
  assert.ok(resized.ok && resized.value.width === 4 && resized.value.height === 4);
  const rle = Buffer.concat([header, pixels]);
  rle.writeUInt32LE(1, 30);
  assert.match((decodeBmp(rle) as { error: string }).error, /compressed BMP/);
  const grey = await readRgbImage(path.join(dir, 'b.png'));
  assert.ok(grey.ok && grey.value.data.length === 64 * 64 * 3);
  const missing = await readRgbImage(path.join(dir, 'gone.png'));
  assert.ok(!missing.ok && /gone\.png: cannot be read \(ENOENT\)/.test(missing.error));
});

test('synth writes images, masks inside the object region, and a contact sheet; the same seed the same files', async () => {
  const run = (out: string, ...extra: string[]) =>
    linewatch('synth', '--bundle', bundleDir, '--images', normals, '--out', out, '--count', '6', '--seed', '5', ...extra);
  const a = path.join(work, 'synth-a');
  let r = await run(a);
  assert.equal(r.code, 0, r.stderr);
  const names = (await fs.readdir(a)).sort();
  assert.equal(names.filter((n) => /^\d{4}-n\d\.png$/.test(n)).length, 6);
  assert.equal(names.filter((n) => n.endsWith('_mask.png')).length, 6);
  assert.equal(names.filter((n) => n.endsWith('_object.png')).length, 6);
  const described = JSON.parse(await fs.readFile(path.join(a, 'samples.json'), 'utf8'));
  assert.equal(described.samples.length, 6);
  for (const s of described.samples) {
    const mask = await sharp(path.join(a, s.mask)).extractChannel(0).raw().toBuffer();
    const object = await sharp(path.join(a, s.object)).extractChannel(0).raw().toBuffer();
    assert.equal(mask.length, 64 * 64);
    let set = 0;
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      set++;
      assert.ok(object[i], `${s.mask}: pixel ${i} lies outside the object region`);
    }
    assert.equal(set, s.mask_pixels);
    assert.ok(set > 0, `${s.mask} is empty`);
  }
  const sheet = await sharp(path.join(a, 'contact-sheet.png')).metadata();
  assert.equal(sheet.width, 3 * 64 + 4 * 4); // normal | synthetic | overlay, 4 px gaps
  assert.equal(sheet.height, 6 * 64 + 7 * 4);

  const b = path.join(work, 'synth-b');
  r = await run(b);
  assert.equal(r.code, 0, r.stderr);
  for (const name of names.filter((n) => n.endsWith('.png'))) {
    assert.ok((await fs.readFile(path.join(a, name))).equals(await fs.readFile(path.join(b, name))), `${name} differs between runs`);
  }
  r = await run(path.join(work, 'synth-c'), '--no-object-mask');
  assert.equal(r.code, 0, r.stderr);
  const whole = JSON.parse(await fs.readFile(path.join(work, 'synth-c', 'samples.json'), 'utf8'));
  assert.ok(whole.samples.every((s: { whole_frame: boolean }) => s.whole_frame));
  r = await linewatch('synth', '--bundle', bundleDir, '--images', path.join(work, 'empty-synth'), '--out', b);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /empty-synth does not exist/);
});

test('tune --no-activate writes an accepted set but not current', async () => {
  const out = path.join(work, 'store-no-activate');
  // A first set on nine normals: gated without a current set, accepted (see nineNormals).
  const r = await linewatch('tune', '--bundle', bundleDir, '--normals', nineNormals, '--out', out, '--steps', '8', '--seed', '3', '--no-activate');
  assert.equal(r.code, 0, r.stderr);
  const [file, status] = r.stdout.split('\n');
  assert.equal(status, 'status: accepted (not made current: --no-activate)');
  const set = JSON.parse(await fs.readFile(file, 'utf8'));
  assert.equal(set.status, 'accepted');
  const sidecar = path.basename(file).replace(/\.json$/, '.memory.safetensors');
  assert.deepEqual((await fs.readdir(out)).sort(), [path.basename(file), sidecar].sort(), 'the set and its memory bank, nothing else: no current');
});

test('tune --parent-pipe FD: when the pipe closes (the parent is gone) it exits at once, writing nothing', async () => {
  const out = path.join(work, 'store-orphan');
  const child = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'bin/linewatch.js'),
      'tune',
      '--bundle',
      bundleDir,
      '--normals',
      nineNormals,
      '--out',
      out,
      '--steps',
      '100000',
      '--progress',
      'json',
      '--parent-pipe',
      '3',
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const running = await Promise.race([
      (async () => {
        while (!/"phase":"steps"/.test(stdout)) await new Promise((r) => setTimeout(r, 50));
        return true;
      })(),
      exited.then(() => false),
    ]);
    assert.ok(running, `tune exited before it started the steps: ${stderr}`);
    (child.stdio[3] as import('node:net').Socket).destroy(); // what the parent's death does to the pipe
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 30 s'), 30_000))]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /the process that started it is gone \(fd 3 closed\); stopping without writing anything/);
    assert.deepEqual(await fs.readdir(out).catch(() => []), []);
  } finally {
    child.kill('SIGKILL');
  }
});

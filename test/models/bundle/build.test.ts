// `linewatch model build` / `model check` end to end on the tiny CLIP fixture: parity with the
// canonical reference in both weight layouts with and without LAA, the anomaly head against an
// independent computation, LAA locality, positional-embedding resizing, and bad input.

import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { defaultLaa, defaultLayers } from '../../../models/bundle/build.ts';
import { loadBundle, readTokenEmbedding } from '../../../models/bundle/load.ts';
import { resizePositionalEmbedding } from '../../../models/graphs/positional-resize.ts';
import { quantizePerOutputChannel } from '../../../models/onnx/transformer.ts';
import { encodeSafetensors, readSafetensors, type TensorToWrite, tensorF32, tensorI64 } from '../../../models/weights/safetensors.ts';
import { linewatch } from '../../support/linewatch-cli.ts';
import { REPO_ROOT } from '../../support/paths.ts';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/clip-tiny');
const REFERENCE = path.join(FIXTURE, 'reference.safetensors');
const GRID = 8;
const E = 64;

let work: string;
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-model-build-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

async function build(name: string, weights: string, ...options: string[]): Promise<string> {
  const out = path.join(work, name);
  const r = await linewatch('model', 'build', '--weights', weights, '--out', out, ...options);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

async function reference() {
  const ref = await readSafetensors(REFERENCE);
  assert.ok(ref.ok);
  return ref.value;
}

/** Directory names left next to bundles: a failed build must leave none behind. */
async function leftovers(): Promise<string[]> {
  return (await fs.readdir(work)).filter((n) => n.startsWith('.'));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// ---------------------------------------------------------------------------------------------
// parity with the reference, through `model check`

const EXPECTED_CHECKS = (prefix: string) => [
  `${prefix}image_embeds`,
  `${prefix}cls_attention`,
  ...[1, 2, 3, 4].map((l) => `${prefix}patch_embeds.L${l}`),
  'text_embeds',
  'prompt_text_embeds',
  'prompt_grad',
];

for (const layout of ['openclip', 'hf'] as const) {
  for (const laa of [true, false]) {
    test(`bundle from the ${layout} layout ${laa ? 'with LAA (radius 1 from block 3)' : 'without LAA'} matches the reference`, async () => {
      const weights = layout === 'hf' ? path.join(FIXTURE, 'hf') : FIXTURE;
      const options = laa ? ['--laa-radius', '1', '--laa-from', '3'] : ['--no-laa'];
      const bundle = await build(`${layout}-${laa ? 'laa' : 'plain'}`, weights, ...options);
      const r = await linewatch('model', 'check', '--bundle', bundle, '--reference', REFERENCE, '--json');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout);
      assert.deepEqual(
        report.tensors.map((t: { name: string }) => t.name),
        EXPECTED_CHECKS(laa ? 'laa.' : ''),
      );
      for (const t of report.tensors) {
        if (t.name === 'prompt_grad') assert.ok(t.maxRel < 1e-5, `${t.name}: relative error ${t.maxRel}`);
        else assert.ok(t.maxAbs < 1e-5, `${t.name}: error ${t.maxAbs}`);
      }
      const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
      assert.equal(manifest.source.layout, layout);
      assert.deepEqual(manifest.vision.laa, laa ? { enabled: true, radius: 1, from: 3 } : { enabled: false });
      assert.deepEqual(manifest.vision.layers, [1, 2, 3, 4]);
    });
  }
}

test('an int8 bundle: quantized blocks within the int8 tolerance of the reference, text graphs unchanged', async () => {
  const bundle = await build('openclip-laa-int8', FIXTURE, '--laa-radius', '1', '--laa-from', '3', '--precision', 'int8');
  const r = await linewatch('model', 'check', '--bundle', bundle, '--reference', REFERENCE, '--json');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.precision, 'int8');
  assert.deepEqual(
    report.tensors.map((t: { name: string }) => t.name),
    EXPECTED_CHECKS('laa.'),
  );
  for (const t of report.tensors) {
    if (t.name.startsWith('laa.')) {
      assert.deepEqual(t.tolerance, { kind: 'cosine', value: 0.99 });
      // quantized for real: far beyond float32 rounding, yet pointing the same way (min cosine
      // 0.9999 with AVX-512 VNNI; 0.998 on an AVX2-only CPU, whose u8 x s8 kernel saturates pairs)
      assert.ok(t.maxAbs > 1e-4 && t.minCosine > 0.995, `${t.name}: abs ${t.maxAbs}, cosine ${t.minCosine}`);
    } else if (t.name === 'prompt_grad') assert.ok(t.maxRel < 1e-5, `${t.name}: relative error ${t.maxRel}`);
    else assert.ok(t.maxAbs < 1e-5, `${t.name}: error ${t.maxAbs}`);
  }
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.equal(manifest.vision.precision, 'int8');
  // int8 weights take a quarter of the float32 ones: the vision weights file shrinks accordingly
  const float32 = path.join(work, 'openclip-laa');
  if (!existsSync(float32)) await build('openclip-laa', FIXTURE, '--laa-radius', '1', '--laa-from', '3');
  const size = async (b: string) => (await fs.stat(path.join(b, 'vision.weights'))).size;
  assert.ok((await size(bundle)) < 0.6 * (await size(float32)), `int8 ${await size(bundle)} B vs float32 ${await size(float32)} B`);
  assert.equal(JSON.parse(await fs.readFile(path.join(float32, 'manifest.json'), 'utf8')).vision.precision, 'fp32');
});

test('per-output-channel int8 quantization of a Linear weight', () => {
  // [out=3, in=2]: channel 0 peaks at 2.54, channel 1 at 0.5 (negative), channel 2 is all zero
  const m = { rows: 3, cols: 2, data: Float32Array.from([2.54, -1.3, 0.25, -0.5, 0, 0]) };
  const { values, scales } = quantizePerOutputChannel(m);
  assert.deepEqual(Array.from(scales), [Math.fround(0.02), Math.fround(0.5 / 127), 1]);
  // stored transposed, [in, out]
  assert.deepEqual(Array.from(values), [127, 64, 0, -65, -127, 0]);
});

test('default layers and LAA settings: four evenly spaced layers ending at the last block, LAA radius 1 in the last three', async () => {
  assert.deepEqual(defaultLayers(12), [3, 6, 9, 12]);
  assert.deepEqual(defaultLayers(24), [6, 12, 18, 24]);
  assert.deepEqual(defaultLayers(4), [1, 2, 3, 4]);
  assert.deepEqual(defaultLayers(2), [1, 2]);
  assert.deepEqual(defaultLaa(12), { radius: 1, from: 10 });
  assert.deepEqual(defaultLaa(2), { radius: 1, from: 1 });
  const bundle = await build('defaults', FIXTURE);
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.vision.layers, [1, 2, 3, 4]);
  assert.deepEqual(manifest.vision.laa, { enabled: true, radius: 1, from: 2 });
  assert.equal(manifest.vision.imageSize, 64);
});

test('model check fails on outputs outside tolerance, on other LAA settings and on missing tensors', async () => {
  const bundle = path.join(work, 'openclip-laa');
  if (!existsSync(bundle)) await build('openclip-laa', FIXTURE, '--laa-radius', '1', '--laa-from', '3');
  const ref = await reference();
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, info] of ref.tensors) {
    const data = info.dtype === 'I64' ? tensorI64(ref, name) : tensorF32(ref, name);
    tensors[name] = { dtype: info.dtype as 'F32' | 'I64', shape: info.shape, data };
  }
  const write = async (name: string, t: Record<string, TensorToWrite>, meta = ref.metadata) => {
    const file = path.join(work, name);
    await fs.writeFile(file, encodeSafetensors(t, meta));
    return file;
  };

  const shifted = new Float32Array(tensors['laa.patch_embeds.L3'].data as Float32Array);
  shifted[5] += 1e-3;
  const off = await write('ref-off.safetensors', { ...tensors, 'laa.patch_embeds.L3': { ...tensors['laa.patch_embeds.L3'], data: shifted } });
  let r = await linewatch('model', 'check', '--bundle', bundle, '--reference', off);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /laa\.patch_embeds\.L3\s+(1\.00e-3|9\.9\de-4)\s.*FAIL/);
  assert.match(r.stdout, /laa\.patch_embeds\.L2\s.*ok/);

  const otherLaa = await write('ref-laa2.safetensors', tensors, { ...ref.metadata, laa_radius: '2' });
  r = await linewatch('model', 'check', '--bundle', bundle, '--reference', otherLaa);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /LAA settings differ: the reference has radius 2 from block 3, the bundle radius 1 from block 3/);

  const { 'laa.cls_attention': _dropped, ...lacking } = tensors;
  const missing = await write('ref-missing.safetensors', lacking);
  r = await linewatch('model', 'check', '--bundle', bundle, '--reference', missing, '--json');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /lacks tensor the bundle needs: laa\.cls_attention/);
  assert.equal(JSON.parse(r.stdout).pass, false);
});

test('a modified bundle file is reported by name', async () => {
  const bundle = await build('tampered', FIXTURE, '--no-laa');
  const weights = path.join(bundle, 'vision.weights');
  const bytes = await fs.readFile(weights);
  bytes[bytes.length - 3] ^= 0x40;
  await fs.writeFile(weights, bytes);
  const loaded = await loadBundle(bundle);
  assert.ok(!loaded.ok);
  assert.match(loaded.error, /vision\.weights is corrupt or was modified/);
  const r = await linewatch('model', 'check', '--bundle', bundle, '--reference', REFERENCE);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /vision\.weights is corrupt/);
});

test("the token embedding table in the bundle is the model's, with CLIP's special ids last", async () => {
  const bundle = path.join(work, 'openclip-plain');
  if (!existsSync(bundle)) await build('openclip-plain', FIXTURE, '--no-laa');
  const loaded = await loadBundle(bundle);
  assert.ok(loaded.ok);
  const table = await readTokenEmbedding(loaded.value);
  assert.ok(table.ok);
  const weights = await readSafetensors(path.join(FIXTURE, 'open_clip_model.safetensors'));
  assert.ok(weights.ok);
  assert.deepEqual(table.value.data, tensorF32(weights.value, 'token_embedding.weight'));
  assert.deepEqual([table.value.vocabSize, table.value.width, table.value.sot, table.value.eot], [1000, 128, 998, 999]);
});

// ---------------------------------------------------------------------------------------------
// the anomaly head, recomputed here from the graph's own patch embeddings

/** 1-D linear resampling with half-pixel centres, edges clamped (ONNX Resize linear / half_pixel). */
function upsampleLinear(src: number[][], size: number): number[][] {
  const n = src.length;
  const coord = (o: number) => {
    const x = Math.min(Math.max(((o + 0.5) * n) / size - 0.5, 0), n - 1);
    const i0 = Math.floor(x);
    return { i0, i1: Math.min(i0 + 1, n - 1), f: x - i0 };
  };
  const rows = src.map((row) =>
    Array.from({ length: size }, (_, c) => {
      const { i0, i1, f } = coord(c);
      return row[i0] * (1 - f) + row[i1] * f;
    }),
  );
  return Array.from({ length: size }, (_, r) => {
    const { i0, i1, f } = coord(r);
    return rows[i0].map((v, c) => v * (1 - f) + rows[i1][c] * f);
  });
}

/** Gaussian blur, sigma 4, taps to 3 sigma, mirrored at the border without repeating the edge. */
function blur(img: number[][]): number[][] {
  const sigma = 4;
  const radius = 12;
  const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = taps.reduce((a, b) => a + b);
  const n = img.length;
  const mirror = (i: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const horizontal = img.map((row) => row.map((_, c) => taps.reduce((acc, t, k) => acc + t * row[mirror(c + k - radius)], 0) / total));
  return img.map((row, r) => row.map((_, c) => taps.reduce((acc, t, k) => acc + t * horizontal[mirror(r + k - radius)][c], 0) / total));
}

test('the anomaly map and score follow from the patch embeddings and the text embeddings', async () => {
  const bundle = await build('head', FIXTURE, '--laa-radius', '1', '--laa-from', '3', '--layers', '2,4');
  const session = await ort.InferenceSession.create(path.join(bundle, 'vision.onnx'));
  const ref = await reference();
  const image = tensorF32(ref, 'pixel_values').slice(0, 3 * 64 * 64);
  // two nearby text directions, so the probabilities spread over (0, 1) instead of saturating
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const normal = Array.from({ length: E }, rnd);
  const text = Float32Array.from([...normal, ...normal.map((v) => v + 0.02 * rnd())]);
  const out = await session.run({
    pixel_values: new ort.Tensor('float32', image, [1, 3, 64, 64]),
    text_embeds: new ort.Tensor('float32', text, [2, E]),
  });
  assert.deepEqual(out.patch_embeds.dims, [1, 2, GRID * GRID, E]);
  const patches = out.patch_embeds.data as Float32Array;

  const unit = (v: ArrayLike<number>) => {
    const n = Math.hypot(...Array.from(v));
    return Array.from(v, (x) => x / n);
  };
  const [t0, t1] = [unit(text.subarray(0, E)), unit(text.subarray(E))];
  const grid = Array.from({ length: GRID }, () => new Array<number>(GRID).fill(0));
  for (let k = 0; k < 2; k++) {
    for (let i = 0; i < GRID * GRID; i++) {
      const p = unit(patches.subarray((k * GRID * GRID + i) * E, (k * GRID * GRID + i + 1) * E));
      const l0 = 100 * p.reduce((a, x, j) => a + x * t0[j], 0);
      const l1 = 100 * p.reduce((a, x, j) => a + x * t1[j], 0);
      const anomalous = Math.exp(l1) / (Math.exp(l0) + Math.exp(l1));
      grid[Math.floor(i / GRID)][i % GRID] += anomalous / 2;
    }
  }
  const expected = blur(upsampleLinear(grid, 64)).flat();
  const map = out.anomaly_map.data as Float32Array;
  assert.deepEqual(out.anomaly_map.dims, [1, 64, 64]);
  const spread = Math.max(...expected) - Math.min(...expected);
  assert.ok(spread > 0.05, `the test image should give a non-flat map (spread ${spread})`);
  assert.ok(maxDiff(map, expected) < 1e-5, `anomaly map differs by ${maxDiff(map, expected)}`);
  assert.ok(Math.abs((out.anomaly_score.data as Float32Array)[0] - Math.max(...expected)) < 1e-5);

  await session.release();
});

// ---------------------------------------------------------------------------------------------
// locality: with LAA in every block, a patch's influence grows by the radius per block

test('with LAA from block 1, changing one patch changes exactly the patch embeddings within reach', async () => {
  const local = await build('local', FIXTURE, '--laa-from', '1', '--laa-radius', '1');
  const global = await build('global', FIXTURE, '--no-laa');
  const ref = await reference();
  const image = tensorF32(ref, 'pixel_values').slice(0, 3 * 64 * 64);
  const [pr, pc] = [2, 5]; // the patch whose pixels change
  const changed = image.slice();
  for (let ch = 0; ch < 3; ch++)
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) changed[ch * 4096 + (pr * 8 + y) * 64 + pc * 8 + x] += 0.5 * Math.sin(x + 3 * y + ch);

  const patchEmbeds = async (bundle: string) => {
    const s = await ort.InferenceSession.create(path.join(bundle, 'vision.onnx'));
    const text = new ort.Tensor('float32', new Float32Array(2 * E), [2, E]);
    const run = async (px: Float32Array) =>
      (await s.run({ pixel_values: new ort.Tensor('float32', px, [1, 3, 64, 64]), text_embeds: text })).patch_embeds.data as Float32Array;
    const result = { before: await run(image), after: await run(changed) };
    await s.release();
    return result;
  };
  const difference = (r: { before: Float32Array; after: Float32Array }, layer: number, patch: number) => {
    const at = ((layer - 1) * GRID * GRID + patch) * E;
    return maxDiff(r.before.subarray(at, at + E), r.after.subarray(at, at + E));
  };

  const l = await patchEmbeds(local);
  for (let layer = 1; layer <= 4; layer++) {
    for (let i = 0; i < GRID * GRID; i++) {
      // patches never attend to the class token, so nothing comes back through it: after `layer`
      // blocks of radius 1 the change reaches Chebyshev distance `layer`
      const distance = Math.max(Math.abs(Math.floor(i / GRID) - pr), Math.abs((i % GRID) - pc));
      const d = difference(l, layer, i);
      if (distance <= layer) assert.ok(d > 1e-6, `layer ${layer}, patch ${i} at distance ${distance} should change (${d})`);
      else assert.equal(d, 0, `layer ${layer}, patch ${i} at distance ${distance} should not change`);
    }
  }
  // plain attention is global: the far corner changes after the first block already
  const g = await patchEmbeds(global);
  assert.ok(difference(g, 1, GRID * GRID - 1) > 1e-4);
});

// ---------------------------------------------------------------------------------------------
// positional embedding resizing

test('bicubic resizing of the positional grid matches hand-computed values and is the identity at the same size', () => {
  // a 2x2 grid whose channel 0 is the column index and channel 1 the row index; class row (7, 9)
  const pos = { rows: 5, cols: 2, data: Float32Array.from([7, 9, 0, 0, 1, 0, 0, 1, 1, 1]) };
  const up = resizePositionalEmbedding(pos, 2, 4);
  // Keys cubic (a = -0.75), half-pixel centres, clamped borders: [0, 1] -> these four values
  const line = [-0.10546875, 0.2265625, 0.7734375, 1.10546875];
  assert.deepEqual(Array.from(up.data.subarray(0, 2)), [7, 9]);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      const at = (1 + r * 4 + c) * 2;
      assert.ok(Math.abs(up.data[at] - line[c]) < 1e-6 && Math.abs(up.data[at + 1] - line[r]) < 1e-6, `cell ${r},${c}`);
    }
  }
  const rows = 1 + 3 * 3;
  const random = { rows, cols: 4, data: Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i * 1.7)) };
  assert.deepEqual(resizePositionalEmbedding(random, 3, 3).data, random.data);
});

test('a bundle at another image size takes that size (positional embedding resized)', async () => {
  const bundle = await build('size96', FIXTURE, '--image-size', '96');
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.deepEqual([manifest.vision.imageSize, manifest.vision.grid, manifest.vision.weightsImageSize], [96, 12, 64]);
  const session = await ort.InferenceSession.create(path.join(bundle, 'vision.onnx'));
  const out = await session.run({
    pixel_values: new ort.Tensor('float32', new Float32Array(2 * 3 * 96 * 96).fill(0.1), [2, 3, 96, 96]),
    text_embeds: new ort.Tensor('float32', new Float32Array(2 * E).fill(1), [2, E]),
  });
  assert.deepEqual(out.patch_embeds.dims, [2, 4, 144, E]);
  assert.deepEqual(out.anomaly_map.dims, [2, 96, 96]);
  assert.deepEqual(out.cls_attention.dims, [2, 144]);
  assert.ok(Array.from(out.image_embeds.data as Float32Array).every(Number.isFinite));
  await session.release();

  // at the weights' own size the resize is the identity: the bundle reproduces the reference
  const same = await build('size64', FIXTURE, '--image-size', '64', '--no-laa');
  const r = await linewatch('model', 'check', '--bundle', same, '--reference', REFERENCE);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

// ---------------------------------------------------------------------------------------------
// bad input: a clear message, a non-zero exit code, and no bundle (partial or otherwise)

async function weightsVariant(name: string, edit: (t: Record<string, TensorToWrite>) => void): Promise<string> {
  const dir = path.join(work, name);
  await fs.mkdir(dir, { recursive: true });
  await fs.copyFile(path.join(FIXTURE, 'open_clip_config.json'), path.join(dir, 'open_clip_config.json'));
  const src = await readSafetensors(path.join(FIXTURE, 'open_clip_model.safetensors'));
  assert.ok(src.ok);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [n, info] of src.value.tensors) tensors[n] = { dtype: 'F32', shape: info.shape, data: tensorF32(src.value, n) };
  edit(tensors);
  await fs.writeFile(path.join(dir, 'open_clip_model.safetensors'), encodeSafetensors(tensors));
  return dir;
}

async function expectFailure(weights: string, options: string[], code: number, message: RegExp): Promise<void> {
  const out = path.join(work, 'rejected');
  const r = await linewatch('model', 'build', '--weights', weights, '--out', out, ...options);
  assert.equal(r.code, code, `exit code for ${options.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(existsSync(out), false, 'no bundle is left behind');
  assert.deepEqual(await leftovers(), [], 'no temporary directory is left behind');
}

test('bad weights are rejected with a clear error and leave nothing behind', async () => {
  const missing = await weightsVariant('w-missing', (t) => delete t['visual.ln_post.weight']);
  await expectFailure(missing, [], 1, /missing tensor 'visual\.ln_post\.weight'/);

  const misshapen = await weightsVariant('w-shape', (t) => {
    t['visual.transformer.resblocks.1.mlp.c_proj.bias'] = { dtype: 'F32', shape: [100], data: new Float32Array(100) };
  });
  await expectFailure(misshapen, [], 1, /'visual\.transformer\.resblocks\.1\.mlp\.c_proj\.bias' has shape \[100\], expected \[128\]/);

  const unknown = path.join(work, 'w-unknown');
  await fs.mkdir(unknown);
  await fs.writeFile(path.join(unknown, 'weights.bin'), 'not a checkpoint');
  await expectFailure(unknown, [], 1, /unknown weights layout/);

  const truncated = path.join(work, 'w-truncated');
  await fs.mkdir(truncated);
  await fs.copyFile(path.join(FIXTURE, 'open_clip_config.json'), path.join(truncated, 'open_clip_config.json'));
  const bytes = await fs.readFile(path.join(FIXTURE, 'open_clip_model.safetensors'));
  await fs.writeFile(path.join(truncated, 'open_clip_model.safetensors'), bytes.subarray(0, bytes.length - 1000));
  await expectFailure(truncated, [], 1, /truncated or corrupt/);

  // unreadable: the weights "file" is a directory
  const unreadable = path.join(work, 'w-unreadable');
  await fs.mkdir(path.join(unreadable, 'open_clip_model.safetensors'), { recursive: true });
  await fs.copyFile(path.join(FIXTURE, 'open_clip_config.json'), path.join(unreadable, 'open_clip_config.json'));
  await expectFailure(unreadable, [], 1, /cannot read .*open_clip_model\.safetensors/);

  await expectFailure(path.join(work, 'does-not-exist'), [], 1, /does not exist/);
});

test('bad option values are rejected with a clear error and leave nothing behind', async () => {
  await expectFailure(FIXTURE, ['--layers', '2,5'], 1, /layer 5 is out of range: the vision transformer has blocks 1\.\.4/);
  await expectFailure(FIXTURE, ['--layers', '0,2'], 1, /1-based block numbers; 0 is not one/);
  await expectFailure(FIXTURE, ['--layers', '2,2'], 1, /name a block twice/);
  await expectFailure(FIXTURE, ['--layers', 'a,b'], 2, /--layers takes block numbers/);
  await expectFailure(FIXTURE, ['--laa-from', '5'], 1, /LAA first block 5 is out of range/);
  await expectFailure(FIXTURE, ['--laa-from', '0'], 1, /LAA first block must be a whole number >= 1/);
  await expectFailure(FIXTURE, ['--laa-radius', '-1'], 2, /laa-radius/);
  await expectFailure(FIXTURE, ['--laa-radius', '1.5'], 2, /--laa-radius takes a whole number/);
  await expectFailure(FIXTURE, ['--no-laa', '--laa-radius', '2'], 1, /LAA settings were given together with LAA disabled/);
  await expectFailure(FIXTURE, ['--image-size', '60'], 1, /image size 60 is not a multiple of the patch size 8/);
  await expectFailure(FIXTURE, ['--image-size', '8'], 1, /image size 8 is below 13 px/);
  await expectFailure(FIXTURE, ['--image-size', 'big'], 2, /--image-size takes a whole number/);
  await expectFailure(FIXTURE, ['--colour', 'red'], 2, /Unknown option '--colour'/);
  await expectFailure(FIXTURE, ['--precision', 'fp16'], 2, /--precision takes fp32 or int8, not 'fp16'/);
  const noOut = await linewatch('model', 'build', '--weights', FIXTURE);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /--out is required/);
  const unknown = await linewatch('model', 'frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown subcommand 'frobnicate'/);
});

test('an existing directory is replaced only when it is a bundle', async () => {
  const precious = path.join(work, 'precious');
  await fs.mkdir(precious);
  await fs.writeFile(path.join(precious, 'notes.txt'), 'keep me');
  const r = await linewatch('model', 'build', '--weights', FIXTURE, '--out', precious);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not a linewatch bundle .*refusing to overwrite/);
  assert.equal(await fs.readFile(path.join(precious, 'notes.txt'), 'utf8'), 'keep me');

  // what a killed build leaves behind (its process is gone) is cleared by the next build
  const abandoned = path.join(work, '.rebuilt.building-999999999-dead');
  await fs.mkdir(abandoned);
  await fs.writeFile(path.join(abandoned, 'vision.onnx'), 'half written');
  const bundle = await build('rebuilt', FIXTURE, '--no-laa');
  assert.equal(existsSync(abandoned), false);
  await build('rebuilt', FIXTURE, '--laa-radius', '2', '--laa-from', '2');
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.vision.laa, { enabled: true, radius: 2, from: 2 });
  assert.deepEqual(await leftovers(), []);
});

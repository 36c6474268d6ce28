import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RgbImage } from '../../tuning/image/rgb-image.ts';
import { defaultOagmOptions, type NormalImage, objectMaskFromAttention, synthesizeAnomalies } from '../../tuning/oagm.ts';
import { applyPerturbation, perturbationKinds } from '../../tuning/perturbations.ts';
import { createRng } from '../../tuning/rng.ts';

const size = 112; // 14 x 14 patches of 8 px
const grid = 14;

/** Attention high on patch rows/cols 4..9 (pixels 32..79), low elsewhere. */
function centredAttention(): Float32Array {
  const a = new Float32Array(grid * grid).fill(0.1);
  for (let y = 4; y <= 9; y++) for (let x = 4; x <= 9; x++) a[y * grid + x] = 1;
  return a;
}

function noiseImage(seed: number): RgbImage {
  const rng = createRng(seed);
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width: size, height: size, data };
}

test('the object mask follows the attention, grown by one patch', () => {
  const object = objectMaskFromAttention(centredAttention(), size, size);
  assert.equal(object.wholeFrame, false);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = object.mask[y * size + x] === 1;
      // The high block spans pixels 32..79; upsampling moves its edge by < 1 patch, dilation by 1 patch.
      if (x >= 36 && x < 76 && y >= 36 && y < 76) assert.ok(inside, `(${x},${y}) should be object`);
      if (x < 16 || x >= 96 || y < 16 || y >= 96) assert.ok(!inside, `(${x},${y}) should be background`);
    }
  }
  assert.ok(object.coverage > 0.2 && object.coverage < 0.6, `coverage ${object.coverage}`);
});

test('texture-like or flat attention, or the ablation switch, make the whole frame the object', () => {
  const rng = createRng(3);
  const scattered = Float32Array.from({ length: grid * grid }, () => rng.float());
  const texture = objectMaskFromAttention(scattered, size, size);
  assert.equal(texture.wholeFrame, true);
  assert.ok(texture.mask.every((v) => v === 1));
  assert.ok(texture.coverage > 0.85);
  assert.equal(objectMaskFromAttention(new Float32Array(grid * grid).fill(0.3), size, size).wholeFrame, true);
  const off = objectMaskFromAttention(centredAttention(), size, size, { ...defaultOagmOptions.object, useObjectMask: false });
  assert.equal(off.wholeFrame, true);
  assert.ok(off.mask.every((v) => v === 1));
});

test('synthetic masks stay inside the object and only masked pixels change', () => {
  const normals: NormalImage[] = [0, 1, 2].map((s) => ({ image: noiseImage(s), clsAttention: centredAttention() }));
  const samples = synthesizeAnomalies(normals, 24, 11);
  const seen = new Set<string>();
  for (const [i, s] of samples.entries()) {
    assert.equal(s.source, i % 3);
    const original = normals[s.source].image.data;
    let masked = 0;
    let changed = 0;
    for (let p = 0; p < s.mask.length; p++) {
      if (s.mask[p]) {
        masked++;
        assert.equal(s.object.mask[p], 1, `sample ${i}: mask pixel ${p} is outside the object`);
        if ([0, 1, 2].some((c) => s.image.data[p * 3 + c] !== original[p * 3 + c])) changed++;
      } else {
        for (let c = 0; c < 3; c++) assert.equal(s.image.data[p * 3 + c], original[p * 3 + c], `sample ${i}: pixel ${p} outside the mask changed`);
      }
    }
    assert.ok(masked >= 16, `sample ${i}: blob of ${masked} pixels`);
    // On a noise image every perturbation alters most blob pixels.
    assert.ok(changed > masked / 2, `sample ${i}: only ${changed} of ${masked} blob pixels changed`);
    s.kinds.forEach((k) => seen.add(k));
  }
  assert.deepEqual([...seen].sort(), [...perturbationKinds].sort());
});

test('synthesis is deterministic per seed and differs between seeds', () => {
  const normals: NormalImage[] = [0, 1].map((s) => ({ image: noiseImage(s), clsAttention: centredAttention() }));
  const a = synthesizeAnomalies(normals, 4, 5);
  const b = synthesizeAnomalies(normals, 4, 5);
  const c = synthesizeAnomalies(normals, 4, 6);
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(a[i].mask, b[i].mask);
    assert.deepEqual(a[i].image.data, b[i].image.data);
    assert.deepEqual(a[i].kinds, b[i].kinds);
  }
  assert.ok(
    a.some((s, i) => !s.mask.every((v, p) => v === c[i].mask[p])),
    'seeds 5 and 6 gave the same masks',
  );
  // Sample i does not depend on how many samples are drawn.
  const longer = synthesizeAnomalies(normals, 6, 5);
  assert.deepEqual(longer[3].mask, a[3].mask);
});

test('on a texture the blobs can land anywhere in the frame', () => {
  const rng = createRng(9);
  const normals: NormalImage[] = [{ image: noiseImage(4), clsAttention: Float32Array.from({ length: grid * grid }, () => rng.float()) }];
  const samples = synthesizeAnomalies(normals, 40, 1);
  assert.ok(samples.every((s) => s.object.wholeFrame));
  const hitCorner = samples.some((s) => {
    for (let p = 0; p < s.mask.length; p++) {
      const x = p % size;
      const y = (p - x) / size;
      if (s.mask[p] && (x < 16 || x >= 96) && (y < 16 || y >= 96)) return true;
    }
    return false;
  });
  assert.ok(hitCorner, 'no blob reached the border band that a centred object would exclude');
});

test('each perturbation kind changes the blob and nothing else', () => {
  const image = noiseImage(7);
  const mask = new Uint8Array(size * size);
  for (let y = 40; y < 60; y++) for (let x = 30; x < 50; x++) mask[y * size + x] = 1;
  for (const kind of perturbationKinds) {
    const out = { ...image, data: new Uint8Array(image.data) };
    applyPerturbation(kind, out, mask, 1, [noiseImage(8)], createRng(1));
    let changed = 0;
    for (let p = 0; p < mask.length; p++) {
      const differs = [0, 1, 2].some((c) => out.data[p * 3 + c] !== image.data[p * 3 + c]);
      if (mask[p]) changed += differs ? 1 : 0;
      else assert.ok(!differs, `${kind}: pixel ${p} outside the mask changed`);
    }
    assert.ok(changed > 300, `${kind}: only ${changed} of 400 blob pixels changed`);
  }
});

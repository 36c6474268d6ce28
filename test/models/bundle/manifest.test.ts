// manifest.json parsing: every problem reported at once, and bundles written before a field
// existed still read with that field's old meaning.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildBundle } from '../../../models/bundle/build.ts';
import { loadBundle } from '../../../models/bundle/load.ts';
import { parseManifest } from '../../../models/bundle/manifest.ts';
import { TINY_CLIP } from '../../support/paths.ts';

const FIXTURE = TINY_CLIP;

async function builtManifest(): Promise<Record<string, any>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-manifest-'));
  try {
    const built = await buildBundle({ weights: FIXTURE, out: path.join(dir, 'bundle') });
    assert.ok(built.ok, built.ok ? '' : built.error);
    return JSON.parse(await fs.readFile(path.join(dir, 'bundle', 'manifest.json'), 'utf8'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('a manifest without vision.precision (written before int8 bundles) reads as float32; an unknown precision is named', async () => {
  const manifest = await builtManifest();
  assert.equal(manifest.vision.precision, 'fp32');
  delete manifest.vision.precision;
  const old = parseManifest(structuredClone(manifest));
  assert.ok(old.ok, old.ok ? '' : old.error);
  assert.equal(old.value.vision.precision, 'fp32');

  manifest.vision.precision = 'fp16';
  const bad = parseManifest(structuredClone(manifest));
  assert.ok(!bad.ok);
  assert.match(bad.error, /vision\.precision must be one of fp32, int8 \(found "fp16"\)/);
});

test('every problem of a manifest is reported in one message', async () => {
  const manifest = await builtManifest();
  manifest.activation = 'relu';
  manifest.vision.layers = [3, 2];
  manifest.checksums['../escape'] = 'a'.repeat(64);
  const r = parseManifest(manifest);
  assert.ok(!r.ok);
  assert.match(r.error, /activation must be one of quick_gelu, gelu \(found "relu"\)/);
  assert.match(r.error, /vision\.layers must be ascending block numbers in 1\.\.4 \(found \[3,2\]\)/);
  assert.match(r.error, /checksums name '\.\.\/escape', which is not a plain file name/);
});

test('a bad value is named by its key path with what was found, in a message naming the file; an unknown key such as __proto__ is refused', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-manifest-'));
  try {
    const bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: FIXTURE, out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);
    const file = path.join(bundle, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
    manifest.vision.heads = '4';
    manifest.preprocess.std[1] = 0;
    manifest.vision.laa = { enabled: true, radius: 2 };
    // written as text: an object literal with __proto__ would set the prototype, not a key
    await fs.writeFile(file, `{"__proto__": {"polluted": true}, ${JSON.stringify(manifest).slice(1)}`);
    const r = await loadBundle(bundle, { verify: false });
    assert.ok(!r.ok);
    assert.ok(r.error.startsWith(`${file}: invalid manifest:`), r.error);
    assert.match(r.error, /- __proto__ is not a known key/);
    assert.match(r.error, /- vision\.heads must be integer \(found "4"\)/);
    assert.match(r.error, /- preprocess\.std\[1\] must be > 0 \(found 0\)/);
    assert.match(r.error, /- vision\.laa has none of the allowed forms \(found \{"enabled":true,"radius":2\}\)/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

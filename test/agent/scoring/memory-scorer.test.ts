// Exactness of the memory scorer on real graphs (a bundle built from the tiny CLIP fixture,
// random weights): an image identical to a shot scores the floor (0) at every pixel, and a shot
// with a region replaced scores highest inside that region.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Bundle, loadBundle } from '../../../models/bundle/load.ts';
import type { RgbImage } from '../../../tuning/image/rgb-image.ts';
import { readRgbImages } from '../../../tuning/images.ts';
import { buildMemoryBank, DEFAULT_MAX_PATCHES } from '../../../tuning/memory-bank.ts';
import { MemorySearch } from '../../../tuning/memory-bank-search.ts';
import { VisionFeatures } from '../../../tuning/vision-features.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';
import { writeTexture } from '../../support/tuning-fixtures.ts';

let work: string;
let bundle: Bundle;
let vision: VisionFeatures;
let search: MemorySearch;
let shots: RgbImage[];

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-memory-'));
  const loaded = await loadBundle(await buildTinyBundle(path.join(work, 'bundle')));
  assert.ok(loaded.ok);
  bundle = loaded.value;
  vision = await VisionFeatures.open(bundle, { providers: ['cpu'] });
  const opened = await MemorySearch.open(bundle, { providers: ['cpu'] });
  assert.ok(opened.ok, opened.ok ? '' : opened.error);
  search = opened.value;
  const files = [1, 2, 3].map((s) => path.join(work, `shot${s}.png`));
  for (const [i, f] of files.entries()) await writeTexture(f, i + 1);
  const images = await readRgbImages(files, vision.size);
  assert.ok(images.ok);
  shots = images.value;
});

after(async () => {
  await vision?.release();
  await search?.release();
  await fs.rm(work, { recursive: true, force: true });
});

const meta = () => new Float32Array(2 * vision.embedDim).fill(1); // any text: only patch_embeds are used

async function bankOfShots() {
  const out = await vision.run(shots, meta(), { patchEmbeds: true });
  return buildMemoryBank(
    out.patchEmbeds!,
    [0, 1, 2],
    { layers: vision.layers, patches: vision.patches, embedDim: vision.embedDim },
    { maxPatches: DEFAULT_MAX_PATCHES, seed: 0 },
  ).bank;
}

test('an image identical to a shot scores exactly the floor at every pixel', async () => {
  const bank = await bankOfShots();
  // scored alone (batch 1) while the bank came from a batch of 3: equal up to rounding only
  const out = await vision.run([shots[1]], meta(), { patchEmbeds: true });
  const scored = await search.run(out.patchEmbeds!, bank, { maps: true });
  assert.equal(scored.scores[0], 0);
  assert.ok(scored.maps!.every((v) => v === 0));
});

test('a shot with a region replaced scores highest in that region', async () => {
  const bank = await bankOfShots();
  const size = vision.size;
  const changed = { ...shots[0], data: Buffer.from(shots[0].data) };
  const [x0, y0, x1, y1] = [40, 8, 56, 24];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) changed.data.set([250, 30, 30], (y * size + x) * 3);
  const out = await vision.run([changed], meta(), { patchEmbeds: true });
  const scored = await search.run(out.patchEmbeds!, bank, { maps: true });
  const map = scored.maps!;
  let best = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
  const [bx, by] = [best % size, Math.floor(best / size)];
  assert.ok(bx >= x0 && bx < x1 && by >= y0 && by < y1, `the highest score is at (${bx}, ${by}), outside the replaced region`);
  assert.ok(scored.scores[0] > 0);
});

// PatchCore's greedy coreset and the bank built with it: deterministic for a seed, every patch
// kept below the limit, and the greedy choice covers outlying rows that a uniform sample misses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greedyCoreset } from '../../tuning/coreset.ts';
import { bankSizes, buildMemoryBank } from '../../tuning/memory-bank.ts';
import { createRng } from '../../tuning/rng.ts';

const E = 32;

function rows(seed: number, count: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * E }, () => rng.normal());
}

test('the coreset is the same for the same seed and differs for another', () => {
  const data = rows(1, 500);
  const a = greedyCoreset(data, E, 50, 7);
  assert.deepEqual(Array.from(greedyCoreset(data, E, 50, 7)), Array.from(a));
  assert.notDeepEqual(Array.from(greedyCoreset(data, E, 50, 8)), Array.from(a));
  assert.equal(new Set(a).size, 50);
  assert.ok(a.every((i, j) => i >= 0 && i < 500 && (j === 0 || i > a[j - 1])));
});

test('at or below the target every row is kept', () => {
  assert.deepEqual(
    Array.from(greedyCoreset(rows(2, 40), E, 40, 0)),
    Array.from({ length: 40 }, (_, i) => i),
  );
});

test('the greedy selection keeps the few far-away rows (a uniform sample of the same size would likely not)', () => {
  // 990 rows near the origin, 10 far away in distinct directions
  const data = Float32Array.from(rows(3, 1000), (v) => v * 0.01);
  const far = [5, 111, 222, 333, 444, 555, 666, 777, 888, 999];
  far.forEach((r, i) => (data[r * E + (i % E)] = 50));
  const chosen = new Set(greedyCoreset(data, E, 20, 4));
  assert.deepEqual(
    far.filter((r) => !chosen.has(r)),
    [],
  );
});

test('a bank keeps every patch of every shot below max_patches and subsamples each layer to it above', () => {
  const K = 2;
  const N = 9;
  const embeds = rows(4, 6 * K * N); // 6 images
  const below = buildMemoryBank(embeds, [0, 2, 5], { layers: K, patches: N, embedDim: E }, { maxPatches: 27, seed: 1 });
  assert.equal(below.coreset, false);
  assert.deepEqual(bankSizes(below.bank), [27, 27]);
  // layer 1 of image 2, patch 4, normalised, is row 9 + 4 of layer 1
  const at = ((2 * K + 1) * N + 4) * E;
  const norm = Math.hypot(...embeds.subarray(at, at + E));
  assert.ok(below.bank.layers[1].subarray(13 * E, 14 * E).every((v, e) => Math.abs(v - embeds[at + e] / norm) < 1e-6));
  const above = buildMemoryBank(embeds, [0, 2, 5], { layers: K, patches: N, embedDim: E }, { maxPatches: 10, seed: 1 });
  assert.equal(above.coreset, true);
  assert.deepEqual(bankSizes(above.bank), [10, 10]);
  const again = buildMemoryBank(embeds, [0, 2, 5], { layers: K, patches: N, embedDim: E }, { maxPatches: 10, seed: 1 });
  assert.deepEqual(
    again.bank.layers.map((l) => Array.from(l)),
    above.bank.layers.map((l) => Array.from(l)),
  );
});

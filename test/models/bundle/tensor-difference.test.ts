// The measures `model check` judges bundles by, on hand-computed cases.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tensorDifference } from '../../../models/bundle/tensor-difference.ts';

test('row cosines, worst and mean; absolute and relative error', () => {
  // rows: identical, orthogonal, opposite-scaled (cosine -1), both zero (counted as equal)
  const expected = [1, 0, 0, 2, 3, 4, 0, 0];
  const actual = [1, 0, 2, 0, -6, -8, 0, 0];
  const d = tensorDifference(actual, expected, 2);
  assert.equal(d.minCosine, -1);
  assert.equal(d.meanCosine, (1 + 0 - 1 + 1) / 4);
  assert.equal(d.maxAbs, 12); // 4 - (-8)
  assert.equal(d.maxRel, 3); // 12 / max |expected| = 4
});

test('a zero row against a non-zero one is not similar; a NaN or a length mismatch fails every measure', () => {
  assert.equal(tensorDifference([0, 0], [1, 1], 2).minCosine, -1);
  const nan = tensorDifference([NaN, 1], [1, 1], 2);
  assert.equal(nan.maxAbs, Infinity);
  assert.equal(nan.minCosine, -1);
  const short = tensorDifference([1], [1, 1], 2);
  assert.deepEqual(short, { maxAbs: Infinity, maxRel: Infinity, minCosine: -1, meanCosine: -1 });
});

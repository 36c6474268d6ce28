import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile } from '../../util/percentile.ts';

test('nearest rank on unsorted values; the top percentile is the maximum; no values give 0', () => {
  const values = [50, 10, 40, 20, 30, 100, 90, 80, 70, 60];
  assert.equal(percentile(values, 0.5), 60);
  assert.equal(percentile(values, 0.95), 100);
  assert.equal(percentile(values, 0.99), 100);
  assert.equal(percentile(values, 0), 10);
  assert.equal(percentile([], 0.5), 0);
  assert.deepEqual(values.slice(0, 3), [50, 10, 40], 'the caller array is not reordered');
});

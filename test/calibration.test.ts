import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate, isAnomalous, normaliseScore } from '../tuning/calibration.ts';
import { gate } from '../tuning/gate.ts';

function valueOf<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function errorOf(r: { ok: true } | { ok: false; error: string }): string {
  if (r.ok) assert.fail('expected an error');
  return r.error;
}

test('calibration normalises by the held-out range and puts the threshold at the highest normal', () => {
  // min 1, max 6; at 0.5 % of 4 normals no normal may be above: raw threshold 4 -> (4-1)/5 = 0.6.
  const { calibration, metrics } = valueOf(calibrate([1, 2, 3, 4], [3.5, 5, 6]));
  assert.deepEqual(calibration, { min: 1, max: 6, threshold: 0.6, targetFpr: 0.005 });
  assert.equal(metrics.normalFpr, 0);
  assert.equal(metrics.syntheticTpr, 2 / 3);
  assert.equal(metrics.syntheticAuroc, 11 / 12); // 3.5 beats 3 normals, 5 and 6 beat all 4
  assert.equal(normaliseScore(3.5, calibration), 0.5);
  assert.equal(normaliseScore(11, calibration), 2); // not clipped
  assert.equal(isAnomalous(4, calibration), false);
  assert.equal(isAnomalous(4.01, calibration), true);
});

test('the threshold allows floor(target * n) normals above it, and tied normals count as below', () => {
  const eight = valueOf(calibrate([8, 7, 6, 5, 4, 3, 2, 1], [9], 0.25));
  assert.equal(eight.metrics.normalFpr, 0.25); // 7 and 8 above the raw threshold 6
  assert.equal(eight.calibration.threshold, (6 - 1) / 8);
  const tied = valueOf(calibrate([1, 4, 4], [5], 0.34)); // one normal allowed above; the two 4s tie
  assert.equal(tied.metrics.normalFpr, 0);
  assert.equal(tied.calibration.threshold, (4 - 1) / 4);
});

test('calibration without both kinds of scores, with equal scores or a bad target is an error', () => {
  assert.match(errorOf(calibrate([], [1])), /0 normal and 1 anomalous/);
  assert.match(errorOf(calibrate([2, 2], [2])), /all 3 held-out scores are equal/);
  assert.equal(calibrate([1], [2], 1).ok, false);
  assert.equal(calibrate([1, NaN], [2]).ok, false);
});

test('the gate accepts a set at least as good (within epsilon) with normal FPR on target', () => {
  assert.deepEqual(gate({ syntheticAuroc: 0.7, normalFpr: 0 }, null), { accepted: true, reasons: [] });
  assert.equal(gate({ syntheticAuroc: 0.895, normalFpr: 0.005 }, { syntheticAuroc: 0.9, normalFpr: 0 }).accepted, true);
  const worse = gate({ syntheticAuroc: 0.88, normalFpr: 0 }, { syntheticAuroc: 0.9, normalFpr: 0 });
  assert.equal(worse.accepted, false);
  assert.match(worse.reasons.join(), /synthetic AUROC 0.8800 is below the current 0.9000/);
  const noisy = gate({ syntheticAuroc: 0.95, normalFpr: 0.0101 }, { syntheticAuroc: 0.9, normalFpr: 0 }, { targetFpr: 0.01 });
  assert.equal(noisy.accepted, false);
  assert.match(noisy.reasons.join(), /false-positive rate 0.0101 exceeds the target 0.01/);
  assert.equal(gate({ syntheticAuroc: 0.88, normalFpr: 0 }, { syntheticAuroc: 0.9, normalFpr: 0 }, { epsilon: 0.05 }).accepted, true);
  assert.equal(gate({ syntheticAuroc: NaN, normalFpr: 0 }, null).accepted, false);
});

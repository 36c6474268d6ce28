import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate, isAnomalous, normaliseScore } from '../../tuning/calibration.ts';
import { gate } from '../../tuning/gate.ts';
import { studentTCdf, studentTQuantile } from '../../tuning/student-t.ts';

function valueOf<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function errorOf(r: { ok: true } | { ok: false; error: string }): string {
  if (r.ok) assert.fail('expected an error');
  return r.error;
}

test('calibration normalises by the held-out range and puts the threshold at the empirical normal quantile', () => {
  // min 1, max 6; at 25 % of 4 normals one normal may be above: raw threshold 3 -> (3-1)/5 = 0.4.
  const { calibration, metrics } = valueOf(calibrate([1, 2, 3, 4], [3.5, 5, 6], 0.25));
  assert.deepEqual(calibration, { min: 1, max: 6, threshold: 0.4, targetFpr: 0.25 });
  assert.equal(metrics.normalFpr, 0.25);
  assert.equal(metrics.syntheticTpr, 1);
  assert.equal(metrics.syntheticAuroc, 11 / 12); // 3.5 beats 3 normals, 5 and 6 beat all 4
  assert.equal(normaliseScore(3.5, calibration), 0.5);
  // The one normalisation of the project: clipped to the published 0..1 scale.
  assert.equal(normaliseScore(11, calibration), 1);
  assert.equal(normaliseScore(0, calibration), 0);
  assert.equal(isAnomalous(3, calibration), false);
  assert.equal(isAnomalous(3.01, calibration), true);
});

test('a degenerate scale (max = min) normalises as a step at min', () => {
  const flat = { min: 0.3, max: 0.3, threshold: 0.5 };
  assert.deepEqual(
    [0.2, 0.3, 0.31].map((raw) => normaliseScore(raw, flat)),
    [0, 0, 1],
  );
});

test('with fewer than 1/target normals the threshold is the Gaussian prediction bound', () => {
  // normals 1, 2, 3: mean 2, sd 1, n - 1 = 2 degrees of freedom, where the t quantile has the
  // closed form (2p - 1) / sqrt(2p(1 - p)); p = 0.9 -> 0.8 / sqrt(0.18).
  const bound = 2 + (0.8 / Math.sqrt(0.18)) * Math.sqrt(4 / 3); // 4.1773...
  const inside = valueOf(calibrate([1, 2, 3], [2.5, 9], 0.1));
  assert.ok(Math.abs(inside.calibration.threshold - (bound - 1) / 8) < 1e-9, `threshold ${inside.calibration.threshold}`);
  assert.equal(inside.calibration.max, 9);
  assert.equal(inside.metrics.syntheticTpr, 0.5);
  // Above every held-out score: the scale is stretched so that the threshold sits at 1 / 1.25.
  const above = valueOf(calibrate([1, 2, 3], [2.5, 4], 0.1));
  assert.ok(Math.abs(above.calibration.max - (bound + 0.25 * (bound - 1))) < 1e-9);
  assert.ok(Math.abs(above.calibration.threshold - 0.8) < 1e-12);
  assert.equal(above.metrics.syntheticTpr, 0);
  // One normal: no spread to estimate, the threshold is that normal.
  assert.equal(valueOf(calibrate([2], [1, 4])).calibration.threshold, 1 / 3);
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

test('Student t quantiles match the published tables', () => {
  // Two-sided 1 % and 5 % critical values (one-sided 0.995 and 0.975), from standard t tables.
  const table: [number, number, number][] = [
    [1, 63.657, 12.706],
    [2, 9.925, 4.303],
    [3, 5.841, 3.182],
    [10, 3.169, 2.228],
    [30, 2.75, 2.042],
  ];
  for (const [df, q995, q975] of table) {
    assert.ok(Math.abs(studentTQuantile(0.995, df) - q995) < 1e-3, `df ${df}: ${studentTQuantile(0.995, df)}`);
    assert.ok(Math.abs(studentTQuantile(0.975, df) - q975) < 1e-3, `df ${df}: ${studentTQuantile(0.975, df)}`);
    assert.ok(Math.abs(studentTQuantile(0.005, df) + q995) < 1e-3);
  }
  assert.ok(Math.abs(studentTCdf(0, 4) - 0.5) < 1e-15);
  assert.throws(() => studentTQuantile(1, 3), /p must be in \(0, 1\)/);
});

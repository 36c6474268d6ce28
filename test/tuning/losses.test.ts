import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anomalyProbabilities, type PatchFeatures, promptLosses, type TaskTargets, unitPatchFeatures } from '../../tuning/losses.ts';
import { buildTaskTargets, patchCoverage } from '../../tuning/patch-targets.ts';
import { createRng } from '../../tuning/rng.ts';

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual}`);

// Text embeddings with t^_norm = (0,1) and t^_anom = (1,0): the margin of p = (cos a, sin a) is
// 100 (cos a - sin a), so a patch with anomalous probability q is the unit vector below.
const text2d = Float64Array.from([0, 2, 5, 0]); // rows of norm 2 and 5: normalisation is exercised
function patchWithProbability(q: number): [number, number] {
  const c = Math.log(q / (1 - q)) / 100; // cos a - sin a = sqrt(2) cos(a + pi/4)
  const a = Math.acos(c / Math.SQRT2) - Math.PI / 4;
  return [Math.cos(a), Math.sin(a)];
}
function features2d(qs: number[][][]): PatchFeatures {
  const B = qs.length;
  const K = qs[0].length;
  const N = qs[0][0].length;
  return unitPatchFeatures(Float32Array.from(qs.flat(2).flatMap(patchWithProbability)), B, K, N, 2);
}

test('probabilities follow the head: normalised vectors, logit scale 100, softmax', () => {
  const f = features2d([[[0.75, 0.5, 0.1]]]);
  const q = anomalyProbabilities(f, text2d);
  close(q[0], 0.75, 1e-5, 'q0');
  close(q[1], 0.5, 1e-5, 'q1');
  close(q[2], 0.1, 1e-5, 'q2');
});

test('task and meta losses on a one-patch image', () => {
  // Tolerance 1e-5: the patch vectors are stored as float32, which moves q by ~1e-6.
  const f = features2d([[[0.75]]]);
  const meta = new Float32Array([0.5]);
  const anomalous = promptLosses(f, { coverage: new Float32Array([1]), labels: new Float32Array([1]) }, meta, text2d, { topFraction: 1 });
  // focal = -(1-q)^2 ln q; dice = 1 - (2q+1)/(q+1+1); BCE = -ln q; KL(0.5 || 0.75).
  close(anomalous.task.focal, 0.0625 * -Math.log(0.75), 1e-5, 'focal y=1');
  close(anomalous.task.dice, 1 - 2.5 / 2.75, 1e-5, 'dice y=1');
  close(anomalous.task.bce, -Math.log(0.75), 1e-5, 'bce y=1');
  close(anomalous.task.value, 0.0625 * -Math.log(0.75) + 1 - 2.5 / 2.75 - Math.log(0.75), 1e-5, 'task y=1');
  close(anomalous.meta!.value, 0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(0.5 / 0.25), 1e-5, 'kl');
  const normal = promptLosses(f, { coverage: new Float32Array([0]), labels: new Float32Array([0]) }, null, text2d, { topFraction: 1 });
  // focal = -q^2 ln(1-q); dice = 1 - 1/(q+1); BCE = -ln(1-q).
  close(normal.task.focal, 0.5625 * -Math.log(0.25), 1e-5, 'focal y=0');
  close(normal.task.dice, 1 - 1 / 1.75, 1e-5, 'dice y=0');
  close(normal.task.bce, -Math.log(0.25), 1e-5, 'bce y=0');
  assert.equal(normal.meta, null);
});

test('the image score is the mean of the top patches of the layer-averaged map', () => {
  // Layer mean [0.8, 0.3, 0.3, 0.1]; top 2 of 4 -> 0.55.
  const f = features2d([
    [
      [0.9, 0.2, 0.5, 0.1],
      [0.7, 0.4, 0.1, 0.1],
    ],
  ]);
  const targets: TaskTargets = { coverage: new Float32Array(4), labels: new Float32Array([1]) };
  const r = promptLosses(f, targets, null, text2d, { topFraction: 0.5 });
  close(r.task.bce, -Math.log(0.55), 1e-5, 'bce');
  const max = promptLosses(f, targets, null, text2d, { topFraction: 0.01 });
  close(max.task.bce, -Math.log(0.8), 1e-5, 'bce of the max');
});

function randomProblem(seed: number) {
  const rng = createRng(seed);
  const B = 3,
    K = 2,
    N = 6,
    E = 5;
  const f = unitPatchFeatures(
    Float32Array.from({ length: B * K * N * E }, () => rng.normal()),
    B,
    K,
    N,
    E,
  );
  const coverage = Float32Array.from({ length: B * N }, (_, i) => (i < N ? 0 : rng.float() < 0.5 ? 0 : rng.float()));
  const targets: TaskTargets = { coverage, labels: new Float32Array([0, 1, 1]) };
  const meta = Float32Array.from({ length: B * K * N }, () => rng.float());
  const base = Array.from({ length: E }, () => rng.normal());
  // Close normal/anomalous rows keep the margins in the sigmoid's curved range.
  const text = Float64Array.from([...base.map((v) => 1.5 * v), ...base.map((v) => v + 0.02 * rng.normal())]);
  return { f, targets, meta, text };
}

test('analytic gradients with respect to t match central finite differences', () => {
  const weightSets = [
    { focal: 1, dice: 0, bce: 0 },
    { focal: 0, dice: 1, bce: 0 },
    { focal: 0, dice: 0, bce: 1 },
    { focal: 1, dice: 1, bce: 1 },
  ];
  for (const seed of [1, 2]) {
    const { f, targets, meta, text } = randomProblem(seed);
    for (const weights of weightSets) {
      const options = { weights, topFraction: 0.34 };
      const at = promptLosses(f, targets, meta, text, options);
      const h = 1e-6;
      let norm = 0;
      for (let j = 0; j < text.length; j++) {
        const plus = Float64Array.from(text);
        const minus = Float64Array.from(text);
        plus[j] += h;
        minus[j] -= h;
        const up = promptLosses(f, targets, meta, plus, options);
        const down = promptLosses(f, targets, meta, minus, options);
        const fdTask = (up.task.value - down.task.value) / (2 * h);
        const fdMeta = (up.meta!.value - down.meta!.value) / (2 * h);
        close(at.task.grad[j], fdTask, 1e-6 + 1e-5 * Math.abs(fdTask), `seed ${seed} ${JSON.stringify(weights)} dTask/dt[${j}]`);
        close(at.meta!.grad[j], fdMeta, 1e-6 + 1e-5 * Math.abs(fdMeta), `seed ${seed} dMeta/dt[${j}]`);
        norm += fdTask ** 2;
      }
      assert.ok(Math.sqrt(norm) > 1e-3, `the check is vacuous: |grad| = ${Math.sqrt(norm)}`);
    }
  }
});

test('losses do not depend on the scale of t; gradients scale inversely', () => {
  const { f, targets, meta, text } = randomProblem(3);
  const a = promptLosses(f, targets, meta, text);
  const b = promptLosses(
    f,
    targets,
    meta,
    text.map((v) => 3 * v),
  );
  close(b.task.value, a.task.value, 1e-12, 'task');
  close(b.meta!.value, a.meta!.value, 1e-12, 'meta');
  for (let j = 0; j < text.length; j++) close(b.task.grad[j], a.task.grad[j] / 3, 1e-12, `grad ${j}`);
});

test('patch coverage is the covered fraction of each cell', () => {
  // 5 x 5 mask, 2 x 2 grid: columns 0..2 and rows 0..2 form the first cell (3 px), 3..4 the second.
  const mask = new Uint8Array(25);
  for (let y = 0; y < 5; y++) mask[y * 5 + 2] = 1; // column 2: one of three columns of the left cells
  mask[4 * 5 + 4] = 1; // one pixel of the 2x2 bottom-right cell
  const c = patchCoverage(mask, 5, 5, 2);
  assert.deepEqual(Array.from(c), [1 / 3, 0, 1 / 3, 1 / 4].map(Math.fround));
});

test('task targets: coverage per image in order, zeros and label 0 for normal images', () => {
  const mask = new Uint8Array([1, 0, 0, 0]); // 2 x 2 mask, grid 2: only the first cell covered
  const t = buildTaskTargets(
    [
      { mask: null, width: 2, height: 2 },
      { mask, width: 2, height: 2 },
    ],
    2,
  );
  assert.deepEqual(Array.from(t.labels), [0, 1]);
  assert.deepEqual(Array.from(t.coverage), [0, 0, 0, 0, 1, 0, 0, 0]);
});

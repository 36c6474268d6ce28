import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam } from '../../tuning/adam.ts';
import { mptsProject } from '../../tuning/mpts.ts';

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual}`);

test('conflicting gradients: the component against g_meta is removed', () => {
  // g_task = (1, -2, 0.5), g_meta = (0, 1, 0): dot = -2 -> g = (1, 0, 0.5).
  const p = mptsProject(new Float32Array([1, -2, 0.5]), new Float32Array([0, 1, 0]));
  assert.equal(p.conflicting, true);
  assert.deepEqual(Array.from(p.grad), [1, 0, 0.5]);
  // Non-axis case: g_task = (3, -1), g_meta = (-1, 1) (|g_meta|^2 = 2, dot = -4):
  // g = (3, -1) - (-4 / 2)(-1, 1) = (1, 1), orthogonal to g_meta.
  const q = mptsProject(new Float32Array([3, -1]), new Float32Array([-1, 1]));
  assert.deepEqual(Array.from(q.grad), [1, 1]);
  close(q.cosine, -4 / (Math.sqrt(10) * Math.sqrt(2)), 1e-7, 'cosine');
  // Half the correction with lambda 0.5: (3, -1) - 0.5 * (-2)(-1, 1) = (2, 0).
  assert.deepEqual(Array.from(mptsProject(new Float32Array([3, -1]), new Float32Array([-1, 1]), 0.5).grad), [2, 0]);
});

test('agreeing or orthogonal gradients, lambda 0 and a zero g_meta leave g_task unchanged', () => {
  const task = new Float32Array([3, -1]);
  const agree = mptsProject(task, new Float32Array([1, 1]));
  assert.equal(agree.conflicting, false);
  assert.deepEqual(Array.from(agree.grad), [3, -1]);
  assert.deepEqual(Array.from(mptsProject(task, new Float32Array([1, 3])).grad), [3, -1]); // dot = 0
  assert.deepEqual(Array.from(mptsProject(task, new Float32Array([-1, 1]), 0).grad), [3, -1]);
  assert.deepEqual(Array.from(mptsProject(task, new Float32Array([0, 0])).grad), [3, -1]);
  assert.notEqual(agree.grad, task, 'the result must be a copy');
});

test('the first Adam step is lr * sign(g)', () => {
  const params = new Float32Array([1, 1, 1]);
  new Adam(3, { lr: 0.01 }).step(params, [0.5, -3e-4, 20]);
  close(params[0], 0.99, 1e-6, 'p0');
  close(params[1], 1.01, 1e-6, 'p1');
  close(params[2], 0.99, 1e-6, 'p2');
});

test('Adam converges on an ill-conditioned quadratic', () => {
  // f(x) = 0.5 * sum a_i (x_i - c_i)^2, gradient a_i (x_i - c_i).
  const a = [100, 1, 0.01];
  const c = [2, -3, 0.5];
  const x = new Float32Array([0, 0, 0]);
  const adam = new Adam(3, { lr: 0.05 });
  for (let s = 0; s < 3000; s++)
    adam.step(
      x,
      Array.from(x, (v, i) => a[i] * (v - c[i])),
    );
  for (let i = 0; i < 3; i++) close(x[i], c[i], 1e-2, `x${i}`);
});

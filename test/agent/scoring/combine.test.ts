// The combination rule of agent/scoring/combine.ts (README, "Scorers") and the per-scorer raw
// scores results carry. Expected maps are worked out by hand in the comments.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineScores } from '../../../agent/scoring/combine.ts';
import { rawScores } from '../../../agent/scoring/raw-scores.ts';
import type { ScorerName, ScorerOutputs, ScorerStates } from '../../../agent/scoring/scorer.ts';

const close = (actual: ArrayLike<number>, expected: number[]) =>
  assert.ok(expected.every((v, k) => Math.abs(actual[k] - v) < 1e-6) && actual.length === expected.length, `${Array.from(actual)} != ${expected}`);

function state(min: number, max: number, threshold: number) {
  return { feeds: {}, calibration: { min, max, threshold } };
}

const output = (...map: number[]) => ({ map: Float32Array.from(map), rawScore: Math.max(...map) });

// Two scorers on scales a factor 10 apart: prompt probabilities on [0, 1], memory distances on [0, 0.1].
const outputs: ScorerOutputs = { prompt: output(0.2, 0.9, 0.5, 0.5) };
const states: ScorerStates = { prompt: state(0, 1, 0.5) };
const withMemory = (mapValues: number[], min: number, max: number, threshold: number) => ({
  outputs: { ...outputs, memory: output(...mapValues) } satisfies ScorerOutputs,
  states: { ...states, memory: state(min, max, threshold) } satisfies ScorerStates,
});
const both: ScorerName[] = ['prompt', 'memory'];

test('one scorer alone goes to the detector unchanged: its raw map and its own calibration', () => {
  const c = combineScores(outputs, states, ['prompt']);
  assert.equal(c.map, outputs.prompt!.map, 'the same map, not a rescaled copy');
  assert.deepEqual(c.scale, { min: 0, max: 1, threshold: 0.5 });
});

test('two scorers: each map on its own calibrated scale, then the mean; the threshold is the mean of theirs', () => {
  const m = withMemory([0.09, 0.01, 0.05, 0.1], 0, 0.1, 0.3);
  const c = combineScores(m.outputs, m.states, both);
  // prompt scaled: 0.2 0.9 0.5 0.5; memory scaled: 0.9 0.1 0.5 1.0; mean: 0.55 0.5 0.5 0.75
  close(c.map, [0.55, 0.5, 0.5, 0.75]);
  assert.deepEqual([c.scale.min, c.scale.max], [0, 1]);
  close([c.scale.threshold], [0.4]); // (0.5 + 0.3) / 2, in the map's float32 arithmetic
});

test("neither scorer dominates by scale: multiplying one scorer's raw values and calibration by 100 changes nothing", () => {
  const small = withMemory([0.09, 0.01, 0.05, 0.1], 0, 0.1, 0.3);
  const large = withMemory([9, 1, 5, 10], 0, 10, 0.3);
  close(combineScores(large.outputs, large.states, both).map, [...combineScores(small.outputs, small.states, both).map]);
});

test('scaled values are clipped to 0..1 before the mean, as published scores are', () => {
  // memory raw 0.3 is three times its calibrated max: it counts as 1, not 3
  const m = withMemory([0.3, 0, -1, 0], 0, 0.1, 0.5);
  close(combineScores(m.outputs, m.states, both).map, [0.6, 0.45, 0.25, 0.25]);
});

test('a pixel is above the combined threshold only where some scorer is above its own', () => {
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let trial = 0; trial < 200; trial++) {
    const p = Array.from({ length: 16 }, random);
    const q = Array.from({ length: 16 }, () => random() * 0.2);
    const [tp, tq] = [random(), random()];
    const c = combineScores({ prompt: output(...p), memory: output(...q) }, { prompt: state(0, 1, tp), memory: state(0, 0.2, tq) }, both);
    c.map.forEach((v, k) => {
      if (v > c.scale.threshold) assert.ok(p[k] > tp || q[k] / 0.2 > tq, `trial ${trial}, pixel ${k}`);
    });
  }
});

test('a pixel where every scorer sits exactly at its own threshold is not above the combined threshold (float32 map arithmetic)', () => {
  // Thresholds at float32 values, so a map value can equal one exactly. With the mean of 0.1 and
  // 0.9 taken in float64 (0.49999999) the float32 pixel (0.5) would lie above it.
  const levels = [0.1, 0.2, 0.3, 0.4, 0.45, 0.55, 0.6, 0.7, 0.8, 0.9].map(Math.fround);
  for (const p of levels) {
    for (const q of levels) {
      const c = combineScores({ prompt: output(p), memory: output(q) }, { prompt: state(0, 1, p), memory: state(0, 1, q) }, both);
      assert.ok(!(c.map[0] > c.scale.threshold), `prompt at ${p}, memory at ${q}: ${c.map[0]} > ${c.scale.threshold}`);
    }
  }
});

test('a scorer without state (memory before the first tuning) is left out; with none left, the prompt scorer scores', () => {
  const c = combineScores(outputs, states, both);
  assert.equal(c.map, outputs.prompt!.map, 'the prompt map alone, unscaled');
  const onlyMemory = combineScores(outputs, states, ['memory']);
  assert.equal(onlyMemory.map, outputs.prompt!.map);
  assert.equal(onlyMemory.scale, states.prompt!.calibration);
});

test('maps of different sizes are refused, naming the sizes', () => {
  const m = withMemory([0.1, 0.2], 0, 1, 0.5);
  assert.throws(() => combineScores(m.outputs, m.states, both), /maps differ in size: 4 vs 2/);
});

test('raw scores per scorer: the map maximum with ignored cells counted as 0', () => {
  const m = withMemory([0.09, 0.01, 0.05, 0.02], 0, 0.1, 0.3);
  const ignore = Uint8Array.from([0, 1, 0, 0]);
  // prompt 0.2 [0.9 ignored] 0.5 0.5 -> 0.5; memory 0.09 [0.01] 0.05 0.02 -> 0.09
  const scores = rawScores(m.outputs, ignore);
  assert.equal(scores.prompt, 0.5);
  assert.ok(Math.abs(scores.memory! - 0.09) < 1e-7);
  assert.equal(rawScores(m.outputs, null).prompt, Math.fround(0.9));
  // every cell ignored: 0, as the detector's raw_score of a zeroed map
  assert.equal(rawScores(outputs, Uint8Array.from([1, 1, 1, 1])).prompt, 0);
  assert.throws(() => rawScores({}, null), /no prompt scorer output/);
});

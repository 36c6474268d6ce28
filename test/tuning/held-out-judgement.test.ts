// The gate's judgement of a set on hand-made held-out maps (2 pixels per image): each scorer is
// calibrated on its own scores, the maps are combined as the agent combines them, and the gate's
// decision follows the combination, so it visibly depends on the memory scorer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gate } from '../../tuning/gate.ts';
import { type HeldOutCounts, type HeldOutMaps, judgeCombined, judgeScorer } from '../../tuning/held-out-judgement.ts';

// 2 calibration normals, 1 gate normal, 2 anomalies
const counts: HeldOutCounts = { calibration: 2, gate: 1, anomalies: 2 };

/** Images as [pixel 0, pixel 1]; each score is its map's maximum. */
function held(...images: [number, number][]): HeldOutMaps {
  return { maps: Float32Array.from(images.flat()), scores: Float32Array.from(images, (m) => Math.max(...m)) };
}

// Calibration normals score alike (no spread: the threshold is their score) and one anomaly
// scores 0, so each scale runs from 0 to the highest anomaly:
//   prompt: min 0, max 1,   threshold 0.5 (raw 0.5)
//   memory: min 0, max 0.1, threshold 0.5 (raw 0.05)
const prompt = (gateNormal: [number, number]) => held([0.5, 0.1], [0.5, 0.1], gateNormal, [1, 0.2], [0, 0]);
const memory = (gateNormal: [number, number]) => held([0.05, 0.01], [0.05, 0.01], gateNormal, [0.1, 0.02], [0, 0]);

function decide(promptHeld: HeldOutMaps, memoryHeld: HeldOutMaps | null) {
  const p = judgeScorer(promptHeld, counts, 0.005);
  assert.ok(p.ok, p.ok ? '' : p.error);
  const parts = [{ held: promptHeld, scale: p.value.calibration }];
  if (memoryHeld) {
    const m = judgeScorer(memoryHeld, counts, 0.005);
    assert.ok(m.ok, m.ok ? '' : m.error);
    parts.push({ held: memoryHeld, scale: m.value.calibration });
  }
  const combined = judgeCombined(parts, counts);
  assert.ok(combined.ok, combined.ok ? '' : combined.error);
  return { judged: combined.value, decision: gate(combined.value.gate, null, { targetFpr: 0.005 }) };
}

test('each scorer is calibrated on its calibration normals and anomalies alone', () => {
  const p = judgeScorer(prompt([0.9, 0.1]), counts, 0.005);
  assert.ok(p.ok);
  assert.deepEqual({ ...p.value.calibration }, { min: 0, max: 1, threshold: 0.5, targetFpr: 0.005 }, 'the gate normal (0.9) moves nothing');
  // the gate normal is above 0.5: FPR 1; anomalies 1 (above) and 0 (not): TPR 0.5
  assert.deepEqual(p.value.gate, { syntheticAuroc: 0.5, normalFpr: 1 });
  assert.equal(p.value.syntheticTpr, 0.5);
});

test('prompts alone pass, prompts + memory fail: the memory scorer sees the gate normal as anomalous', () => {
  // prompt pixel 0 exactly at its threshold (0.5, not above); memory pixel 0 at 0.08 -> 0.8 > 0.5
  const p = prompt([0.5, 0.1]);
  const m = memory([0.08, 0.01]);
  const alone = decide(p, null);
  assert.equal(alone.judged.gate.normalFpr, 0);
  assert.ok(alone.decision.accepted, alone.decision.reasons.join());
  // combined pixel 0: (0.5 + 0.8) / 2 = 0.65 > (0.5 + 0.5) / 2
  const both = decide(p, m);
  assert.equal(both.judged.gate.normalFpr, 1);
  assert.ok(!both.decision.accepted);
  assert.match(both.decision.reasons.join(), /normal false-positive rate 1\.0000 exceeds the target 0\.005/);
});

test('prompts alone fail, prompts + memory pass: the memory scorer vouches for the gate normal', () => {
  // prompt pixel 0 at 0.6 > 0.5; memory pixel 0 at 0.01 -> 0.1: combined (0.6 + 0.1) / 2 = 0.35 < 0.5
  const p = prompt([0.6, 0.1]);
  const m = memory([0.01, 0.01]);
  assert.ok(!decide(p, null).decision.accepted);
  const both = decide(p, m);
  assert.equal(both.judged.gate.normalFpr, 0);
  assert.ok(both.decision.accepted, both.decision.reasons.join());
});

test('the combined AUROC ranks the combined maps: memory separates what the prompts tie', () => {
  const p = held([0.5, 0.1], [0.5, 0.1], [0.2, 0.1], [0.5, 0.1], [1, 0]);
  const m = held([0.02, 0], [0.02, 0], [0.01, 0], [0.1, 0], [0, 0]);
  // prompt scores: normals 0.5 0.5 0.2, anomalies 0.5 1. Of the 6 (normal, anomaly) pairs the
  // anomaly wins 4 and ties 2: AUROC (4 + 2 / 2) / 6.
  assert.ok(Math.abs(decide(p, null).judged.gate.syntheticAuroc - 5 / 6) < 1e-12);
  // memory scale 0..0.1. Combined pixel 0 (pixel 1 is lower everywhere): normals (0.5 + 0.2) / 2
  // twice and (0.2 + 0.1) / 2; anomalies (0.5 + 1) / 2 and (1 + 0) / 2: every anomaly above
  // every normal.
  assert.equal(decide(p, m).judged.gate.syntheticAuroc, 1);
});

test('one scorer combined is that scorer as it is; mismatched inputs are refused', () => {
  const p = prompt([0.3, 0.1]);
  const alone = judgeScorer(p, counts, 0.005);
  assert.ok(alone.ok);
  const combined = judgeCombined([{ held: p, scale: alone.value.calibration }], counts);
  assert.ok(combined.ok);
  assert.deepEqual(combined.value, { gate: alone.value.gate, syntheticTpr: alone.value.syntheticTpr });
  const short = judgeScorer(held([0.5, 0.1]), counts, 0.005);
  assert.ok(!short.ok && /1 held-out scores for 5 held-out images/.test(short.error));
  const unequal = judgeCombined(
    [
      { held: p, scale: alone.value.calibration },
      { held: { maps: new Float32Array(9), scores: new Float32Array(5) }, scale: alone.value.calibration },
    ],
    counts,
  );
  assert.ok(!unequal.ok && /10 vs 9 values for 5 images/.test(unequal.error));
});

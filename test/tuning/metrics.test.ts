import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageMetrics, type PixelSample, pixelMetrics } from '../../tuning/metrics.ts';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);

function valueOf<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

test('image metrics with a tie between a normal and an anomalous image', () => {
  // Thresholds 0.9: TP1 FP0; 0.8: TP2 FP1; 0.3: TP2 FP2.
  // AUROC (Mann-Whitney): pairs (0.9>0.8, 0.9>0.3, 0.8=0.8 -> 1/2, 0.8>0.3) = 3.5 / 4.
  // AP = 0.5 * 1 + 0.5 * 2/3; F1 at 0.8 = 2*2 / (2 + 1 + 2) = 0.8.
  const m = valueOf(imageMetrics([0.9, 0.8, 0.8, 0.3], [1, 1, 0, 0]));
  close(m.auroc, 0.875, 'auroc');
  close(m.ap, 5 / 6, 'ap');
  close(m.f1max, 0.8, 'f1max');
  assert.equal(m.f1Threshold, 0.8);
  assert.deepEqual(m.roc[0], { x: 0, y: 0 });
  assert.deepEqual(m.roc[m.roc.length - 1], { x: 1, y: 1 });
});

test('image metrics when every score is tied', () => {
  const m = valueOf(imageMetrics([0.5, 0.5, 0.5, 0.5], [true, false, true, false]));
  close(m.auroc, 0.5, 'auroc');
  close(m.ap, 0.5, 'ap');
  close(m.f1max, 2 / 3, 'f1max');
});

test('image metrics for perfect and inverted rankings', () => {
  const perfect = valueOf(imageMetrics([3, 2, 1, 0], [1, 1, 0, 0]));
  close(perfect.auroc, 1, 'auroc');
  close(perfect.ap, 1, 'ap');
  close(perfect.f1max, 1, 'f1max');
  assert.equal(perfect.f1Threshold, 2);
  // Inverted: precision 1/3 at recall 1/2 and 1/2 at recall 1 -> AP = 1/6 + 1/4; best F1 = 4/6.
  const inverted = valueOf(imageMetrics([3, 2, 1, 0], [0, 0, 1, 1]));
  close(inverted.auroc, 0, 'auroc');
  close(inverted.ap, 5 / 12, 'ap');
  close(inverted.f1max, 2 / 3, 'f1max');
});

test('a single class, mismatched lengths or a NaN score are errors, not NaN', () => {
  const allNormal = imageMetrics([0.1, 0.2], [0, 0]);
  assert.equal(allNormal.ok, false);
  assert.match(!allNormal.ok ? allNormal.error : '', /2 normal and 0 anomalous/);
  assert.equal(imageMetrics([0.1, 0.2], [1, 1]).ok, false);
  assert.equal(imageMetrics([0.1], [1, 0]).ok, false);
  const nan = imageMetrics([0.1, NaN], [1, 0]);
  assert.match(!nan.ok ? nan.error : '', /score 1 is not a finite number/);
  const noDefect = pixelMetrics([{ width: 2, height: 1, scores: new Float32Array([0.1, 0.2]), mask: new Uint8Array(2) }]);
  assert.match(!noDefect.ok ? noDefect.error : '', /2 normal and 0 anomalous/);
});

test('pixel AUROC and F1-max across images with tied scores', () => {
  const samples: PixelSample[] = [
    { width: 2, height: 2, scores: new Float32Array([0.1, 0.4, 0.4, 0.9]), mask: new Uint8Array([0, 0, 1, 1]) },
    { width: 2, height: 2, scores: new Float32Array([0.4, 0.2, 0.2, 0.2]), mask: new Uint8Array(4) },
  ];
  // Positives {0.9, 0.4}, negatives {0.1, 0.4, 0.4, 0.2, 0.2, 0.2}:
  // 0.9 beats all 6; 0.4 beats 4 and ties 2 -> (6 + 4 + 1) / 12.
  const m = valueOf(pixelMetrics(samples));
  close(m.auroc, 11 / 12, 'pixel auroc');
  // F1 at 0.9: 2/(1+0+2); at 0.4: 4/(2+2+2): both 2/3, the first (highest threshold) is kept.
  close(m.f1max, 2 / 3, 'pixel f1max');
  assert.equal(m.f1Threshold, Math.fround(0.9));
});

test('PRO weights each 8-connected region equally, whatever its size', () => {
  // 4x4 image. Region A = two diagonal pixels (one region with 8-connectivity, two with 4),
  // region B = two pixels in the last column. Normal pixels: 0.8 and 0.6 once, the other 10 at 0.
  const scores = new Float32Array(16);
  const mask = new Uint8Array(16);
  const at = (x: number, y: number) => y * 4 + x;
  for (const [x, y] of [
    [0, 0],
    [1, 1],
  ]) {
    mask[at(x, y)] = 1;
    scores[at(x, y)] = 0.9;
  }
  mask[at(3, 2)] = 1;
  scores[at(3, 2)] = 0.7;
  mask[at(3, 3)] = 1;
  scores[at(3, 3)] = 0.1;
  scores[at(2, 0)] = 0.8;
  scores[at(0, 3)] = 0.6;
  // Curve (FPR, mean overlap): (0,0) (0,.5) (1/12,.5) (1/12,.75) (2/12,.75) (2/12,1) (1,1).
  // Area to 0.3: .5/12 + .75/12 + (0.3 - 2/12) * 1 = 0.2375; normalised: 0.2375 / 0.3.
  const m = valueOf(pixelMetrics([{ width: 4, height: 4, scores, mask }]));
  close(m.pro, 0.2375 / 0.3, 'pro');
  assert.deepEqual(m.proCurve[m.proCurve.length - 1], { x: 0.3, y: 1 });
});

test('PRO counts tied normal and anomalous pixels together and interpolates at FPR 0.3', () => {
  // 8 normal pixels scored 1..8 and one anomalous pixel scored 6 (tied with a normal one).
  // Points: (1/8, 0), (2/8, 0), (3/8, 1); at FPR 0.3 the overlap is 0.4 -> area 0.05 * 0.4 / 2.
  const scores = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 6]);
  const mask = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const m = valueOf(pixelMetrics([{ width: 9, height: 1, scores, mask }]));
  close(m.pro, 0.01 / 0.3, 'pro');
  const limited = valueOf(pixelMetrics([{ width: 9, height: 1, scores, mask }], { proLimit: 1 }));
  // Up to FPR 1: 0.125 * 0.5 (the tied step) + 0.625 * 1.
  close(limited.pro, 0.0625 + 0.625, 'pro to FPR 1');
});

test('PRO counts regions of different images separately', () => {
  // Image 1: one 1-pixel region scored 5; image 2: one 3-pixel region, one pixel scored 5.
  // Normals: 4 pixels scored 0. At threshold 5: overlap (1 + 1/3) / 2 = 2/3 at FPR 0.
  const a: PixelSample = { width: 3, height: 1, scores: new Float32Array([5, 0, 0]), mask: new Uint8Array([1, 0, 0]) };
  const b: PixelSample = { width: 5, height: 1, scores: new Float32Array([5, 1, 1, 0, 0]), mask: new Uint8Array([1, 1, 1, 0, 0]) };
  // Then at threshold 1 the second region is full (overlap 1) still at FPR 0; the area to 0.3 is 0.3.
  const m = valueOf(pixelMetrics([a, b]));
  close(m.pro, 1, 'pro');
  // Scoring the region pixels of image 2 below all normals: (0, 2/3) then FPR 1 -> 0.3 * 2/3.
  const b2: PixelSample = { ...b, scores: new Float32Array([5, -1, -1, 0, 0]) };
  close(valueOf(pixelMetrics([a, b2])).pro, 2 / 3, 'pro with a half-missed region');
});

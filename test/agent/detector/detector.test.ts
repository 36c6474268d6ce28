import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import type { SourceGeometry } from '../../../agent/camera/frame.ts';
import { effectiveThreshold } from '../../../agent/detector/calibration.ts';
import { CameraDetector } from '../../../agent/detector/camera-detector.ts';
import { type DetectorEvent, EventTracker } from '../../../agent/detector/events.ts';
import { type AnomalyMap, judgeFrame } from '../../../agent/detector/frame-verdict.ts';
import { buildIgnoreMask, pointInPolygon } from '../../../agent/detector/ignore-mask.ts';
import { encodeMaskPng } from '../../../agent/detector/mask-png.ts';
import { normaliseScore } from '../../../tuning/calibration.ts';

const cal = { min: 0.2, max: 0.6, threshold: 0.5 };
// Maps are float32: compare to float32 precision.
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} != ${b}`);

/** A 4x4 map of 0.2 (normalises to 0) with the given cells set: [i (column), j (row), value]. */
function map4x4(cells: [number, number, number][]): AnomalyMap {
  const values = new Float32Array(16).fill(0.2);
  for (const [i, j, v] of cells) values[j * 4 + i] = v;
  return { values, width: 4, height: 4 };
}

const whole: SourceGeometry = { width: 640, height: 480, roi: null };
const cropped: SourceGeometry = { width: 640, height: 480, roi: [100, 40, 200, 100] };

describe('score normalisation and threshold', () => {
  test('raw scores map linearly from [min, max] onto [0, 1], clipped', () => {
    close(normaliseScore(0.4, cal), 0.5);
    close(normaliseScore(0.5, cal), 0.75);
    assert.equal(normaliseScore(0.1, cal), 0);
    assert.equal(normaliseScore(0.7, cal), 1);
  });

  test('sensitivity 0.5 keeps the calibrated threshold, 0 and 1 are the extremes', () => {
    const t = { min: 0, max: 1, threshold: 0.4 };
    close(effectiveThreshold(t, 0.5), 0.4);
    close(effectiveThreshold(t, 0), 1);
    close(effectiveThreshold(t, 1), 0);
    close(effectiveThreshold(t, 0.25), 0.7); // 0.4 + 0.6 * 0.5
    close(effectiveThreshold(t, 0.75), 0.2); // 0.4 * 0.5
  });
});

describe('frame verdict and bounding box', () => {
  // Cells (1,2) = 0.6 -> 1.0 and (2,2) = 0.5 -> 0.75, both above the threshold 0.5.
  const twoCells = () =>
    map4x4([
      [1, 2, 0.6],
      [2, 2, 0.5],
    ]);

  test('without roi: cells of 160x120 camera pixels', () => {
    const v = judgeFrame(twoCells(), null, whole, cal, 0.5);
    close(v.rawScore, 0.6);
    assert.deepEqual([v.score, v.threshold, v.anomalous], [1, 0.5, true]);
    assert.deepEqual(v.bbox, [160, 240, 320, 120]);
  });

  test('with roi [100, 40, 200, 100]: cells of 50x25 pixels offset by the crop', () => {
    assert.deepEqual(judgeFrame(twoCells(), null, cropped, cal, 0.5).bbox, [150, 90, 100, 25]);
  });

  test('fractional cell sizes grow the box to whole pixels', () => {
    // 3 cells across a 100 px roi: cell 1 spans x 33.3..66.7 -> pixels 33..67.
    const m: AnomalyMap = { values: Float32Array.from([0.2, 0.6, 0.2]), width: 3, height: 1 };
    assert.deepEqual(judgeFrame(m, null, { width: 100, height: 10, roi: null }, cal, 0.5).bbox, [33, 0, 34, 10]);
  });

  test('a frame below the threshold is normal and has no box; higher sensitivity flags it', () => {
    const m = () => map4x4([[3, 3, 0.36]]); // normalises to 0.4
    const calm = judgeFrame(m(), null, whole, cal, 0.5);
    assert.deepEqual([calm.anomalous, calm.bbox], [false, null]);
    const keen = judgeFrame(m(), null, whole, cal, 0.75); // threshold 0.25
    assert.deepEqual([keen.anomalous, keen.bbox], [true, [480, 360, 160, 120]]);
  });
});

describe('ignore polygons', () => {
  test('point in polygon (even-odd)', () => {
    const tri: [number, number][] = [
      [0, 0],
      [10, 0],
      [0, 10],
    ];
    assert.equal(pointInPolygon(2, 2, tri), true);
    assert.equal(pointInPolygon(5, 4.9, tri), true);
    assert.equal(pointInPolygon(6, 6, tri), false);
    assert.equal(pointInPolygon(-1, 1, tri), false);
  });

  test('cells whose centre is inside are masked, in camera coordinates through the roi', () => {
    // roi cells are 50x25 px; centres x 125, 175, 225, 275 and y 52.5, 77.5, 102.5, 127.5.
    const rect: [number, number][] = [
      [100, 40],
      [200, 40],
      [200, 90],
      [100, 90],
    ];
    const mask = buildIgnoreMask([rect], 4, 4, cropped)!;
    assert.deepEqual(
      [...mask.keys()].filter((k) => mask[k] === 1),
      [0, 1, 4, 5],
    );
    assert.equal(
      buildIgnoreMask(
        [
          [
            [0, 0],
            [50, 0],
            [0, 30],
          ],
        ],
        4,
        4,
        cropped,
      ),
      null,
    ); // outside the roi
  });

  test('ignored cells are zeroed and no longer drive the score or the box', () => {
    // Without roi, cell (1,2) has centre (240, 300): inside; cell (2,2) centre (400, 300): outside.
    const m = map4x4([
      [1, 2, 0.6],
      [2, 2, 0.5],
    ]);
    const mask = buildIgnoreMask(
      [
        [
          [150, 230],
          [330, 230],
          [330, 370],
          [150, 370],
        ],
      ],
      4,
      4,
      whole,
    );
    const v = judgeFrame(m, mask, whole, cal, 0.5);
    assert.equal(m.values[2 * 4 + 1], 0);
    close(v.rawScore, 0.5);
    close(v.score, 0.75);
    assert.deepEqual(v.bbox, [320, 240, 160, 120]);
  });
});

describe('events', () => {
  const ids = () => {
    let n = 0;
    return () => `e${++n}`;
  };
  const A = (ts: number, score: number, x = 0) => ({ ts, anomalous: true, score, bbox: [x, 0, 10, 10] as [number, number, number, number] });
  const N = (ts: number) => ({ ts, anomalous: false, score: 0.1, bbox: null });

  test('open after 3 anomalous frames in a row, rate-limited updates, end after 2 normal frames', () => {
    const t = new EventTracker('cam', { openFrames: 3, closeFrames: 2, updateIntervalMs: 1000 }, ids());
    const out = [
      A(100, 0.6),
      N(200),
      A(300, 0.7, 3),
      A(400, 0.8, 4),
      A(500, 0.75, 5),
      A(600, 0.9, 6),
      N(700),
      A(1600, 0.85, 8),
      N(1700),
      N(1800),
      A(1900, 0.7),
    ].map((o) => t.observe(o));
    const expected: (DetectorEvent | null)[] = [
      null,
      null, // the lone anomalous frame at 100 is forgotten
      null,
      null,
      { type: 'new', id: 'e1', camera: 'cam', start_ts: 300, end_ts: null, max_score: 0.8, frames: 3, bbox: [4, 0, 10, 10] },
      null, // 0.9 is higher, but only 100 ms after the last message
      null, // one normal frame does not end it
      { type: 'update', id: 'e1', camera: 'cam', start_ts: 300, end_ts: null, max_score: 0.9, frames: 5, bbox: [6, 0, 10, 10] },
      null,
      { type: 'end', id: 'e1', camera: 'cam', start_ts: 300, end_ts: 1600, max_score: 0.9, frames: 5, bbox: [6, 0, 10, 10] },
      null, // a new run starts counting
    ];
    assert.deepEqual(out, expected);
    assert.equal(t.isOpen, false);
  });

  test('no update without a higher score; close() ends an open event', () => {
    const t = new EventTracker('cam', { openFrames: 1, closeFrames: 5, updateIntervalMs: 0 }, ids());
    assert.equal(t.observe(A(0, 0.9))?.type, 'new');
    assert.equal(t.observe(A(10, 0.8)), null);
    assert.equal(t.observe(A(20, 0.95))?.type, 'update');
    assert.deepEqual(t.close(), { type: 'end', id: 'e1', camera: 'cam', start_ts: 0, end_ts: 20, max_score: 0.95, frames: 3, bbox: [0, 0, 10, 10] });
    assert.equal(t.close(), null);
    assert.equal(t.observe(A(30, 0.9))?.id, 'e2');
  });
});

describe('camera detector', () => {
  test('rebuilds the ignore mask when the camera geometry changes and feeds events', () => {
    // Polygon around camera (240, 300): cell (1,2) without roi; outside the roi [100, 40, 200, 100].
    const det = new CameraDetector(
      'cam',
      [
        [
          [200, 280],
          [280, 280],
          [280, 320],
          [200, 320],
        ],
      ],
      { sensitivity: 0.5, rules: { openFrames: 1, closeFrames: 1, updateIntervalMs: 0 } },
      () => 'id',
    );
    const first = det.process(1, map4x4([[1, 2, 0.6]]), whole, cal);
    assert.deepEqual([first.verdict.anomalous, first.event], [false, null]);
    const second = det.process(2, map4x4([[1, 2, 0.6]]), cropped, cal);
    assert.equal(second.verdict.anomalous, true);
    assert.deepEqual(second.event, { type: 'new', id: 'id', camera: 'cam', start_ts: 2, end_ts: null, max_score: 1, frames: 1, bbox: [150, 90, 50, 25] });
  });
});

describe('mask PNG', () => {
  test('8-bit grey PNG of the normalised map that decodes to the same pixels', async () => {
    const m: AnomalyMap = { values: Float32Array.from([0, 0.5, 1, 1.5, 2, 3]), width: 3, height: 2 };
    const png = await encodeMaskPng(m, { min: 0, max: 2, threshold: 0.5 });
    assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
    // IHDR: width, height (big-endian), bit depth 8, colour type 0 (greyscale).
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]], [3, 2, 8, 0]);
    assert.equal((await sharp(png).metadata()).channels, 1);
    const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 1);
    assert.deepEqual([...data], [0, 64, 128, 191, 255, 255]); // round(255 * [0, .25, .5, .75, 1, 1])
  });
});

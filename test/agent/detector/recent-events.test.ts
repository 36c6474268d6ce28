// The live page's list of a camera's last events, fed as the camera runtime feeds it: each frame's
// verdict through the real event tracker, the tracker's peak flag, then the message it emitted.
// Thumbnails are "encoded" by a stand-in that records which frame it was given.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import type { Frame } from '../../../agent/camera/frame.ts';
import { encodeThumbnail, THUMBNAIL_SIZE } from '../../../agent/detector/event-thumbnail.ts';
import { type EventRules, EventTracker } from '../../../agent/detector/events.ts';
import { RecentEvents, type RecentEventsOptions } from '../../../agent/detector/recent-events.ts';

const frameAt = (ts: number): Frame => ({
  camera: 'cam',
  frameId: ts,
  ts,
  width: 1,
  height: 1,
  rgb: new Uint8Array(3),
  source: { width: 1, height: 1, roi: null },
});

/** A tracker and a list wired like the camera runtime; `frame(ts, score)` is anomalous above 0.5. */
function camera(rules: Partial<EventRules>, options: Partial<RecentEventsOptions> = {}) {
  let id = 0;
  const tracker = new EventTracker('cam', { openFrames: 1, closeFrames: 1, updateIntervalMs: 60_000, ...rules }, () => `ev-${++id}`);
  const encoded: number[] = [];
  const errors: string[] = [];
  const clock = { now: 0 };
  const events = new RecentEvents({
    encode: async (f) => (encoded.push(f.ts), Buffer.from(`frame ${f.ts}`)),
    onEncodeError: (e) => errors.push(e.message),
    now: () => clock.now,
    ...options,
  });
  const frame = (ts: number, score: number) => {
    clock.now = ts;
    const message = tracker.observe({ ts, anomalous: score > 0.5, score, bbox: null });
    if (tracker.lastFrameWasPeak) events.peak(frameAt(ts), score);
    if (message) events.record(message);
  };
  return { tracker, events, frame, encoded, errors, clock };
}

const text = (b: Buffer | null) => b?.toString() ?? null;

describe('recent events of a camera', () => {
  test('the thumbnail is the peak frame, also one before the event opened and one after the last update message; times and max score', async () => {
    const cam = camera({ openFrames: 2 });
    cam.frame(1000, 0.8); // the peak of the opening run, before any event
    cam.frame(1100, 0.6); // opens the event
    assert.deepEqual(cam.events.list(), [{ id: 'ev-1', open: true, start_ts: 1000, end_ts: null, duration_ms: 100, max_score: 0.8, thumbnail_ts: null }]);
    assert.equal(text(await cam.events.thumbnail('ev-1')), 'frame 1000');
    cam.frame(1200, 0.95); // a new peak; its update message is held back by the rate limit
    cam.frame(1300, 0.7);
    assert.equal(text(await cam.events.thumbnail('ev-1')), 'frame 1200');
    cam.clock.now = 5000;
    assert.deepEqual(cam.events.list(), [{ id: 'ev-1', open: true, start_ts: 1000, end_ts: null, duration_ms: 4000, max_score: 0.95, thumbnail_ts: 1200 }]);
    cam.frame(5000, 0.1); // closes it
    assert.deepEqual(cam.events.list(), [{ id: 'ev-1', open: false, start_ts: 1000, end_ts: 1300, duration_ms: 300, max_score: 0.95, thumbnail_ts: 1200 }]);
    assert.deepEqual(cam.encoded, [1000, 1200]);
  });

  test('a run that never opened an event leaves no frame behind for the next event', async () => {
    const cam = camera({ openFrames: 2 });
    cam.frame(1000, 0.99);
    cam.frame(1100, 0.1); // the run ends short of opening
    cam.frame(1200, 0.6);
    cam.frame(1300, 0.55);
    assert.equal(text(await cam.events.thumbnail('ev-1')), 'frame 1200');
    assert.equal(cam.events.list()[0].max_score, 0.6);
  });

  test('keeps the last `keep` events, newest first', async () => {
    const cam = camera({}, { keep: 2 });
    for (const t of [1000, 2000, 3000]) {
      cam.frame(t, 0.9);
      cam.frame(t + 100, 0.1);
    }
    assert.deepEqual(
      cam.events.list().map((e) => e.id),
      ['ev-3', 'ev-2'],
    );
    assert.equal(await cam.events.thumbnail('ev-1'), null);
    assert.equal(await cam.events.thumbnail('nope'), null);
  });

  test('peaks that arrive during an encoding collapse into the newest; a failed encoding keeps the previous thumbnail', async () => {
    const release: Array<() => void> = [];
    let fail = false;
    const cam = camera(
      {},
      {
        encode: (f) => {
          if (fail) return Promise.reject(new Error('vips: out of memory'));
          return new Promise((resolve) => release.push(() => resolve(Buffer.from(`frame ${f.ts}`))));
        },
      },
    );
    cam.frame(1000, 0.6); // opens, encoding 1000 starts
    await new Promise((r) => setImmediate(r));
    cam.frame(1100, 0.7);
    cam.frame(1200, 0.8);
    cam.frame(1300, 0.9); // only this one of the three is encoded next
    assert.equal(release.length, 1);
    release.shift()!();
    await new Promise((r) => setImmediate(r));
    assert.equal(release.length, 1);
    release.shift()!();
    assert.equal(text(await cam.events.thumbnail('ev-1')), 'frame 1300');
    fail = true;
    cam.frame(1400, 0.95);
    assert.equal(text(await cam.events.thumbnail('ev-1')), 'frame 1300');
    assert.deepEqual(cam.errors, ['vips: out of memory']);
    assert.equal(cam.events.list()[0].thumbnail_ts, 1300);
  });

  test('the tracker flags exactly the frames that raise the run maximum', () => {
    const t = new EventTracker('cam', { openFrames: 1, closeFrames: 2, updateIntervalMs: 0 });
    const flags = [0.6, 0.9, 0.7, 0.2, 0.95, 0.1, 0.1, 0.3, 0.6].map((score, i) => {
      t.observe({ ts: i, anomalous: score > 0.5, score, bbox: null });
      return t.lastFrameWasPeak;
    });
    assert.deepEqual(flags, [true, true, false, false, true, false, false, false, true]);
  });
});

test('a thumbnail is a JPEG of the frame, at most THUMBNAIL_SIZE on its longer side', async () => {
  const width = 320;
  const height = 200;
  const rgb = new Uint8Array(width * height * 3).fill(200);
  const jpeg = await encodeThumbnail({ ...frameAt(1), width, height, rgb });
  const meta = await sharp(jpeg).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.deepEqual([meta.width, meta.height], [THUMBNAIL_SIZE, 100]);
  const small = await sharp(await encodeThumbnail({ ...frameAt(1), width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3) })).metadata();
  assert.deepEqual([small.width, small.height], [64, 64]);
});

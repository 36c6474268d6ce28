import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { createCamera } from '../../../agent/camera/camera.ts';
import { type FfmpegSourceOptions, ffmpegArgs, parseInputSize, startFfmpegSource } from '../../../agent/camera/ffmpeg-source.ts';
import type { Frame, SourceGeometry } from '../../../agent/camera/frame.ts';
import { FrameSlot } from '../../../agent/camera/frame-slot.ts';
import { RawFrameReader } from '../../../agent/camera/raw-frame-reader.ts';
import { startDirSource } from '../../../agent/camera/sources/dir.ts';
import { fileInput } from '../../../agent/camera/sources/file.ts';
import { httpInput, startHttpSource } from '../../../agent/camera/sources/http.ts';
import { rtspInput } from '../../../agent/camera/sources/rtsp.ts';
import { v4l2Input } from '../../../agent/camera/sources/v4l2.ts';
import { backoffDelay, type CameraStatus, CameraSupervisor, type RunningSource } from '../../../agent/camera/supervisor.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'linewatch-camera-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SIZE = { width: 32, height: 24 };

/** Polls until `check` is true; fails after `ms` (a guard against hanging, not a timing assertion). */
async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a source until it has delivered `n` frames, then stops it. */
async function firstFrames(start: (sink: (rgb: Uint8Array, g: SourceGeometry) => void) => RunningSource, n: number) {
  const frames: { rgb: Uint8Array; geometry: SourceGeometry }[] = [];
  const src = start((rgb, geometry) => frames.push({ rgb, geometry }));
  await waitFor(`${n} frames`, () => frames.length >= n);
  src.terminate();
  await src.ended;
  return frames.slice(0, n);
}

const pixel = (rgb: Uint8Array, x: number, y: number, width = SIZE.width) => {
  const k = (y * width + x) * 3;
  return [rgb[k], rgb[k + 1], rgb[k + 2]];
};

/** Within `tol` per channel: video codecs round-trip colours through YUV. */
function assertColour(actual: number[], expected: number[], tol: number, where: string) {
  assert.ok(
    actual.every((v, i) => Math.abs(v - expected[i]) <= tol),
    `${where}: ${actual} is not ${expected} (+-${tol})`,
  );
}

describe('ffmpeg command line', () => {
  const base = { fps: 5, roi: null, size: { width: 64, height: 48 } } as const;
  const argsOf = (o: Partial<FfmpegSourceOptions> & Pick<FfmpegSourceOptions, 'input'>) => ffmpegArgs({ ...base, ...o });
  const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  test('rtsp over TCP with a socket timeout in microseconds', () => {
    const args = argsOf({ input: rtspInput('rtsp://cam/1', 7.5) });
    assert.equal(after(args, '-rtsp_transport'), 'tcp');
    assert.equal(after(args, '-timeout'), '7500000');
    assert.equal(after(args, '-i'), 'rtsp://cam/1');
  });

  test('http with a read/write timeout, devices through v4l2, files looped in real time', () => {
    assert.equal(after(argsOf({ input: httpInput('http://cam/mjpg', 7.5) }), '-rw_timeout'), '7500000');
    assert.equal(after(argsOf({ input: v4l2Input('/dev/video0') }), '-f'), 'v4l2');
    const file = argsOf({ input: fileInput('/x.mp4') });
    assert.equal(after(file, '-stream_loop'), '-1');
    assert.ok(file.indexOf('-re') < file.indexOf('-i'));
  });

  test('live inputs stop probing once the codec is known (no frame-rate estimate); files probe as usual', () => {
    for (const input of [rtspInput('rtsp://cam/1', 7.5), httpInput('http://cam/mjpg', 7.5), v4l2Input('/dev/video0')]) {
      assert.equal(after(input, '-fpsprobesize'), '0', input.join(' '));
      assert.equal(after(input, '-analyzeduration'), '2000000', input.join(' '));
      assert.ok(input.indexOf('-fpsprobesize') < input.indexOf('-i'), 'an input option');
    }
    assert.ok(!fileInput('/x.mp4').includes('-fpsprobesize'));
  });

  test('fps, roi crop and scale to the input size, raw rgb24 to stdout', () => {
    const args = argsOf({ input: fileInput('/x.mp4'), roi: [10, 20, 100, 50] });
    assert.equal(after(args, '-vf'), 'fps=5,crop=100:50:10:20,scale=64:48:flags=bicubic');
    assert.deepEqual(args.slice(-5), ['-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  });

  test('the input size is read from the stream description', () => {
    const line = '  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 160x120 [SAR 1:1 DAR 4:3], 4 kb/s, 10 fps';
    assert.deepEqual(parseInputSize(line), { width: 160, height: 120 });
    assert.deepEqual(parseInputSize('  Stream #0:0: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 1280x720, 25 tbr'), {
      width: 1280,
      height: 720,
    });
    assert.equal(parseInputSize('  Stream #0:1: Audio: aac (LC), 48000 Hz, stereo'), null);
  });
});

describe('raw frame reader', () => {
  test('cuts frames at exact sizes whatever the chunking', () => {
    const frames: number[][] = [];
    const reader = new RawFrameReader(6, (f) => frames.push([...f]));
    reader.push(Uint8Array.from([1, 2, 3, 4]));
    reader.push(Uint8Array.from([5, 6, 7, 8, 9]));
    assert.deepEqual(frames, [[1, 2, 3, 4, 5, 6]]);
    reader.push(Uint8Array.from([10, 11, 12, 13]));
    assert.deepEqual(frames, [
      [1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10, 11, 12],
    ]);
  });
});

describe('video file camera (real ffmpeg)', () => {
  const clip = path.join(tmp, 'halves.mp4');
  before(() => {
    // 160x120, left half red, right half blue, 2 s at 10 fps.
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'color=c=red:s=80x120:r=10,pad=160:120:0:0:blue',
      '-t',
      '2',
      '-pix_fmt',
      'yuv420p',
      clip,
    ]);
  });
  const options = (roi: FfmpegSourceOptions['roi']): FfmpegSourceOptions => ({ input: fileInput(clip), fps: 10, roi, size: SIZE });

  test('frames have the input size and the picture (red | blue), with the camera geometry', async () => {
    const [frame] = await firstFrames((sink) => startFfmpegSource(options(null), sink), 1);
    assert.equal(frame.rgb.length, SIZE.width * SIZE.height * 3);
    assert.deepEqual(frame.geometry, { width: 160, height: 120, roi: null });
    assertColour(pixel(frame.rgb, 4, 12), [255, 0, 0], 24, 'left');
    assertColour(pixel(frame.rgb, 27, 12), [0, 0, 255], 24, 'right');
  });

  test('the roi crop happens before scaling', async () => {
    const [frame] = await firstFrames((sink) => startFfmpegSource(options([80, 0, 80, 120]), sink), 1);
    assert.deepEqual(frame.geometry, { width: 160, height: 120, roi: [80, 0, 80, 120] });
    for (const x of [0, 16, 31]) assertColour(pixel(frame.rgb, x, 12), [0, 0, 255], 24, `x=${x}`);
  });

  test('a file loops like a live camera (more frames than the clip holds)', async () => {
    const frames = await firstFrames((sink) => startFfmpegSource({ ...options(null), fps: 20 }, sink), 45);
    assert.equal(frames.length, 45); // the clip has 20 frames
  });
});

describe('camera supervision (real ffmpeg)', () => {
  test('an HTTP camera that stalls is killed by the watchdog and restarted: offline, then online again', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 0, g: 200, b: 0 } } })
      .jpeg()
      .toBuffer();
    let connections = 0;
    // An MJPEG camera that sends 15 frames per connection and then goes silent, keeping the socket open.
    const server = http.createServer((req, res) => {
      connections++;
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
        res.write(jpeg);
        res.write('\r\n');
        if (++sent === 15) clearInterval(timer);
      }, 50);
      req.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream.mjpg`;

    const statuses: CameraStatus[] = [];
    const frames: Frame[] = [];
    const camera = new CameraSupervisor({
      camera: 'stall',
      size: SIZE,
      // ffmpeg's own read timeout far away, so that the watchdog is what notices the stall. ffmpeg
      // blocked in a read ignores SIGTERM until that timeout, so the restart also needs the SIGKILL.
      start: (sink) => startHttpSource({ kind: 'http', url }, { fps: 10, roi: null, size: SIZE, ioTimeoutS: 60 }, sink),
      startTimeoutMs: 10_000,
      watchdogMs: 1500,
      killGraceMs: 500,
      backoff: { initialMs: 100, maxMs: 1000 },
      onFrame: (f) => frames.push(f),
      onStatus: (s) => statuses.push(s),
    });
    try {
      camera.start();
      await waitFor('online, offline, online', () => statuses.length >= 3);
      assert.deepEqual(statuses.slice(0, 3), [{ state: 'online' }, { state: 'offline', reason: 'no frame for 1.5 s' }, { state: 'online' }]);
      assert.equal(connections, 2);
      assert.equal(camera.stats.restarts, 1);
      // Frame ids keep counting across the restart; frames are green from the camera.
      assert.deepEqual(
        frames.map((f) => f.frameId),
        frames.map((_, i) => i + 1),
      );
      assertColour(pixel(frames[0].rgb, 16, 12), [0, 200, 0], 24, 'mjpeg frame');
      assert.deepEqual(frames[0].source, { width: 64, height: 48, roi: null });
    } finally {
      await camera.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  test("an unreachable camera is offline with ffmpeg's reason and retried", async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r)); // nothing listens there now

    const statuses: CameraStatus[] = [];
    const camera = createCamera(
      'gone',
      { source: { kind: 'http', url: `http://127.0.0.1:${port}/` }, fps: 5, roi: null, ignore: [], enabled: true, watchdog_s: 5, start_timeout_s: 5 },
      SIZE,
      { onFrame: () => assert.fail('no frame expected'), onStatus: (s) => statuses.push(s) },
      { backoff: { initialMs: 50, maxMs: 100 } },
    );
    try {
      camera.start();
      await waitFor('two restarts', () => camera.stats.restarts >= 2);
      assert.equal(statuses.length, 1); // the same reason again is not a new status
      assert.equal(statuses[0].state, 'offline');
      assert.match(statuses[0].state === 'offline' ? statuses[0].reason : '', /^ffmpeg exited with code \d+: .*Connection refused/);
    } finally {
      await camera.stop();
    }
  });

  test('restart delays grow exponentially up to the cap', () => {
    const b = { initialMs: 1000, maxMs: 30_000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, b)),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000],
    );
  });
});

describe('dir: camera', () => {
  const dir = path.join(tmp, 'images');
  before(async () => {
    mkdirSync(dir);
    const solid = (r: number, g: number, b: number) => sharp({ create: { width: 40, height: 20, channels: 3, background: { r, g, b } } });
    await solid(255, 0, 0).png().toFile(path.join(dir, 'a.png'));
    // A single-channel grey image (like the DeepPCB frames) comes out as three equal channels.
    await solid(100, 100, 100).toColourspace('b-w').png().toFile(path.join(dir, 'b.png'));
    await solid(0, 0, 255).jpeg({ quality: 100 }).toFile(path.join(dir, 'c.jpg'));
    writeFileSync(path.join(dir, 'd.png'), 'not an image'); // skipped
  });

  test('cycles through the folder in name order at the input size', async () => {
    const frames = await firstFrames((sink) => startDirSource({ kind: 'dir', path: dir }, { fps: 25, roi: null, size: SIZE, ioTimeoutS: 5 }, sink), 5);
    const centre = frames.map((f) => pixel(f.rgb, 16, 12));
    const expected = [
      [255, 0, 0],
      [100, 100, 100],
      [0, 0, 255],
      [255, 0, 0],
      [100, 100, 100],
    ];
    centre.forEach((c, i) => assertColour(c, expected[i], 2, `frame ${i}`));
    assert.equal(frames[0].rgb.length, SIZE.width * SIZE.height * 3);
    assert.deepEqual(frames[0].geometry, { width: 40, height: 20, roi: null });
  });

  test('crops the roi before scaling', async () => {
    const halves = path.join(tmp, 'halves');
    mkdirSync(halves);
    // 40x20: left half red, right half blue.
    await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .extend({ right: 20, background: { r: 0, g: 0, b: 255 } })
      .png()
      .toFile(path.join(halves, 'h.png'));
    const [frame] = await firstFrames(
      (sink) => startDirSource({ kind: 'dir', path: halves }, { fps: 25, roi: [20, 0, 20, 20], size: SIZE, ioTimeoutS: 5 }, sink),
      1,
    );
    for (const x of [0, 16, 31]) assertColour(pixel(frame.rgb, x, 12), [0, 0, 255], 0, `x=${x}`);
    assert.deepEqual(frame.geometry, { width: 40, height: 20, roi: [20, 0, 20, 20] });
  });

  test('an empty folder ends the source with the reason', async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    const src = startDirSource({ kind: 'dir', path: empty }, { fps: 25, roi: null, size: SIZE, ioTimeoutS: 5 }, () => assert.fail('no frame expected'));
    assert.match(await src.ended, /^no images \(.*\) in .*empty$/);
  });
});

describe('latest-frame-wins slot', () => {
  test('put overwrites and counts the frames nobody took', async () => {
    const slot = new FrameSlot<number>();
    assert.equal(slot.tryTake(), undefined);
    slot.put(1);
    slot.put(2);
    slot.put(3);
    assert.equal(await slot.take(), 3);
    assert.equal(slot.dropped, 2);
    slot.put(4);
    assert.equal(slot.tryTake(), 4);
    assert.deepEqual([slot.received, slot.dropped], [4, 2]);
  });

  test('take waits for the next put; whenReady does not consume', async () => {
    const slot = new FrameSlot<string>();
    const taken = slot.take();
    const ready = slot.whenReady();
    slot.put('a');
    assert.equal(await taken, 'a');
    await ready;
    slot.put('b');
    await slot.whenReady();
    assert.equal(slot.tryTake(), 'b');
    assert.equal(slot.dropped, 0);
  });
});

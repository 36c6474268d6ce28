// RTSP cameras against a real server: GStreamer's RTSP server on loopback (test/support/
// rtsp-server.py) serving an H.264 test pattern behind basic auth, read through real ffmpeg, by
// the camera alone and by `linewatch run` over a real mosquitto. A camera slow to deliver its
// first frame must get start_timeout_s, not the watchdog (defect: with watchdog_s 3 such a camera
// was killed before its first frame on every try, forever).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createCamera } from '../../agent/camera/camera.ts';
import type { Frame } from '../../agent/camera/frame.ts';
import type { CameraStatus } from '../../agent/camera/supervisor.ts';
import type { CameraConfig } from '../../agent/config.ts';
import type { CameraStatusPayload } from '../../agent/contract/payloads.ts';
import type { AgentState } from '../../agent/http/agent-view.ts';
import { buildBundle } from '../../models/bundle/build.ts';
import { startAgentProcess } from '../support/agent-process.ts';
import { httpLeaks, leaksIn } from '../support/leaks.ts';
import { findExecutable, freePort, observer, type Received, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { rtspServerMissing, startRtspServer } from '../support/rtsp-server.ts';

const SIZE = { width: 32, height: 24 };
const mosquitto = findExecutable('mosquitto');
const skip = !findExecutable('ffmpeg') ? 'ffmpeg is not installed' : rtspServerMissing();
const HANG_GUARD = { timeout: 120_000 }; // not a speed assertion: a hung camera must not hang CI

/** Polls until `check` is true; fails after `ms` (a guard against hanging, not a timing assertion). */
async function waitFor(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function rtspCamera(url: string, over: Partial<CameraConfig>): CameraConfig {
  return { source: { kind: 'rtsp', url }, fps: 5, roi: null, ignore: [], enabled: true, watchdog_s: 3, start_timeout_s: 20, ...over };
}

/** A camera under supervision with everything it reported. */
function watched(cfg: CameraConfig) {
  const statuses: CameraStatus[] = [];
  const frames: Frame[] = [];
  const camera = createCamera(
    'cam',
    cfg,
    SIZE,
    { onFrame: (f) => frames.push(f), onStatus: (s) => statuses.push(s) },
    { killGraceMs: 500, backoff: { initialMs: 100, maxMs: 1000 } },
  );
  return { camera, statuses, frames };
}

describe('RTSP camera (GStreamer RTSP server, real ffmpeg)', { skip }, () => {
  test('a camera 5 s slow to its first frame comes online under watchdog_s 3 (start_timeout_s covers the start)', HANG_GUARD, async () => {
    const server = await startRtspServer({ firstFrameDelayS: 5 });
    const { camera, statuses, frames } = watched(rtspCamera(server.url, { watchdog_s: 3, start_timeout_s: 20 }));
    try {
      camera.start();
      await waitFor('online or a restart', () => statuses.length > 0 || camera.stats.restarts > 0, 40_000);
      assert.deepEqual(statuses[0], { state: 'online' }, `killed before its first frame: ${JSON.stringify(statuses)}`);
      assert.equal(camera.stats.restarts, 0);
      await waitFor('frames after the first', () => frames.length >= 5);
      assert.deepEqual(frames[0].source, { width: 160, height: 120, roi: null });
    } finally {
      await camera.stop();
      await server.stop();
    }
  });

  test('a camera that never delivers a first frame is stopped after start_timeout_s, with that reason', HANG_GUARD, async () => {
    const server = await startRtspServer({ firstFrameDelayS: 600 });
    const { camera, statuses } = watched(rtspCamera(server.url, { watchdog_s: 1, start_timeout_s: 4 }));
    try {
      const started = Date.now();
      camera.start();
      await waitFor('offline', () => statuses.length > 0, 40_000);
      const waited = Date.now() - started;
      assert.deepEqual(statuses[0], { state: 'offline', reason: 'no first frame within 4 s' });
      assert.ok(waited >= 4000, `stopped after ${waited} ms, before start_timeout_s`);
    } finally {
      await camera.stop();
      await server.stop();
    }
  });

  test('a camera that goes silent (server frozen) is stopped after watchdog_s and comes back once the server answers', HANG_GUARD, async () => {
    const server = await startRtspServer();
    const { camera, statuses } = watched(rtspCamera(server.url, { watchdog_s: 2, start_timeout_s: 20 }));
    try {
      camera.start();
      await waitFor('online', () => statuses.length > 0);
      assert.deepEqual(statuses[0], { state: 'online' });
      server.pause();
      const frozenAt = Date.now();
      await waitFor('offline', () => statuses.length > 1);
      const silentMs = Date.now() - frozenAt;
      assert.deepEqual(statuses[1], { state: 'offline', reason: 'no frame for 2 s' });
      assert.ok(silentMs <= 2000 + 1500, `offline ${silentMs} ms after the server froze`);
      server.resume();
      await waitFor('online again', () => statuses.length > 2);
      assert.deepEqual(statuses[2], { state: 'online' });
    } finally {
      server.resume();
      await camera.stop();
      await server.stop();
    }
  });
});

describe('an RTSP camera in a running agent', { skip: skip || (!mosquitto && 'mosquitto is not installed') }, () => {
  const PASSWORD = 'Rtsp-S3cret-42';
  const WATCHDOG_S = 3;
  const BACKOFF_CAP_MS = 30_000; // the supervisor's default, which `linewatch run` uses
  const START_TIMEOUT_MS = 20_000; // start_timeout_s's default: the file leaves it out

  test('results arrive; the server stops: offline within the watchdog, masked; it returns: results within the backoff cap; the password nowhere', {
    timeout: 300_000,
  }, async (t) => {
    const dir = await tempDir();
    const bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const watch = await observer(broker.url, {}, ['#']);
    // 4 s to the first frame of every session: longer than watchdog_s, as a slow camera is.
    const server = await startRtspServer({ user: 'viewer', password: PASSWORD, firstFrameDelayS: 4 });
    t.after(() => server.stop());

    const httpPort = await freePort();
    const config = path.join(dir, 'agent.yaml');
    await fs.writeFile(
      config,
      `device_id: cell7
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", topic_prefix: lw }
cameras:
  gate: { source: "${server.url}", fps: 2, watchdog_s: ${WATCHDOG_S} }
detector: { result_rate_hz: 100 }
http: { host: 127.0.0.1, port: ${httpPort} }
`,
    );
    const agent = startAgentProcess(config, { LINEWATCH_LOG_LEVEL: 'debug' });
    const isResult = (m: Received) => m.topic === 'lw/cell7/gate/result';
    const status = (m: Received) => (m.topic === 'lw/cell7/gate/status' ? (JSON.parse(m.payload.toString()) as CameraStatusPayload) : null);

    await watch.next(isResult);
    assert.equal(watch.got.filter((m) => status(m)?.state === 'offline' && status(m)?.reason !== 'starting').length, 0, 'no restart before the first frame');

    const stoppedAt = Date.now();
    const sinceStop = watch.got.length;
    await server.stop();
    const offline = status(await watch.next((m) => status(m)?.state === 'offline', sinceStop))!;
    const offlineMs = Date.now() - stoppedAt;
    assert.ok(offlineMs <= WATCHDOG_S * 1000 + 1500, `offline ${offlineMs} ms after the server stopped (watchdog_s ${WATCHDOG_S})`);
    assert.match(offline.reason ?? '', /^the stream ended/, 'the reason says what happened');
    const base = `http://127.0.0.1:${httpPort}`;
    const state = (await (await fetch(`${base}/api/state`)).json()) as AgentState;
    assert.notEqual(state.cameras[0]?.status, 'online', JSON.stringify(state.cameras[0]));
    const leaks = await httpLeaks([PASSWORD], base); // while the reason is fresh

    await watch.next((m) => status(m)?.state === 'offline' && /Connection refused/.test(status(m)?.reason ?? ''), sinceStop);
    const backAt = Date.now();
    const sinceBack = watch.got.length;
    await server.start();
    await watch.next(isResult, sinceBack);
    const resumedMs = Date.now() - backAt;
    // The next try comes within the backoff cap, and it has start_timeout_s for its first frame.
    assert.ok(resumedMs <= BACKOFF_CAP_MS + START_TIMEOUT_MS, `results resumed ${resumedMs} ms after the server came back`);
    t.diagnostic(`offline ${offlineMs} ms after the server stopped (${offline.reason}); results ${resumedMs} ms after it came back`);

    leaks.push(...(await httpLeaks([PASSWORD], base)));
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.output());
    for (const m of watch.got) leaks.push(...leaksIn([PASSWORD], `MQTT ${m.topic}`, m.payload.toString()));
    leaks.push(...leaksIn([PASSWORD], 'agent output', agent.output()));
    assert.deepEqual(leaks, []);
    assert.match(agent.output(), /rtsp:\/\/viewer:\*\*\*@127\.0\.0\.1/, 'the log names the camera, masked');
  });
});

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { createCommandDispatcher } from '../../../agent/commands/dispatcher.ts';
import type { AgentState, AgentView, HealthReport } from '../../../agent/http/agent-view.ts';
import { type RunningHttpServer, startHttpServer } from '../../../agent/http/server.ts';
import { type AgentMetrics, createAgentMetrics } from '../../../agent/stats/prometheus-metrics.ts';
import { chromiumMissing, launchChromium } from '../../support/chromium.ts';
import { recordingHandlers } from '../../support/recording-handlers.ts';

const TEST_TIMEOUT = { timeout: 60_000 }; // a hang guard, not an assertion on speed

/** Test double of the running agent: fixed cameras, a grey frame, a mask hot on its left half. */
class FakeAgentView implements AgentView {
  health_: HealthReport = { healthy: true, checks: { mqtt: { ok: true } } };
  constructor(
    readonly frames: { frame: Buffer; mask: Buffer },
    readonly agentState: AgentState,
  ) {}
  state() {
    return this.agentState;
  }
  async frame(camera: string) {
    return camera === 'cam-a' ? { bytes: this.frames.frame, contentType: 'image/png' as const } : null;
  }
  async mask(camera: string) {
    return camera === 'cam-a' ? this.frames.mask : null;
  }
  health() {
    return this.health_;
  }
}

const STATE: AgentState = {
  device_id: 'line1-node',
  demo: true,
  bundle: 'demo-random',
  mqtt_connected: true,
  retune: { state: 'idle', progress: 0, ts: 0 },
  cameras: [
    {
      name: 'cam-a',
      status: 'online',
      frame_id: 17,
      score: 0.734,
      scores: { prompt: 0.612, memory: 0.081 },
      threshold: 0.5,
      anomalous: true,
      prompt_set: 'ps-0007',
      history: [
        { ts: 1, score: 0.1 },
        { ts: 2, score: 0.4 },
        { ts: 3, score: 0.734 },
      ],
    },
    {
      name: 'cam-b',
      status: 'offline',
      status_reason: 'no frame for 12 s',
      frame_id: null,
      score: null,
      scores: null,
      threshold: 0.5,
      anomalous: false,
      prompt_set: 'ps-0002',
      history: [],
    },
  ],
};

/** `http.allowed_hosts`: a name the plant's DNS gives this node (any port), and a proxy's host:port. */
const ALLOWED_HOSTS = ['Line1.plant.local', 'gateway.plant.local:8443', 'fd00::7'];

let server: RunningHttpServer;
let base: string;
let view: FakeAgentView;
let metrics: AgentMetrics;
const recorded = recordingHandlers();

before(async () => {
  // 40x20 grey frame (100,100,100); 2x1 mask: left pixel 255 (anomalous), right 0.
  const frame = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 100, g: 100, b: 100 } } })
    .png()
    .toBuffer();
  const mask = await sharp(Buffer.from([255, 0]), { raw: { width: 2, height: 1, channels: 1 } })
    .png()
    .toBuffer();
  view = new FakeAgentView({ frame, mask }, STATE);
  metrics = createAgentMetrics();
  // A secret is set: the page still works because loopback requests are trusted.
  const dispatcher = createCommandDispatcher(recorded.handlers, { secret: 'page-secret' });
  const started = await startHttpServer({ host: '127.0.0.1', port: 0, view, dispatcher, metrics, allowedHosts: ALLOWED_HOSTS });
  assert.ok(started.ok);
  server = started.value;
  base = `http://127.0.0.1:${server.port}`;
});
after(async () => server?.stop());

test('/metrics exposes the agent metrics under linewatch_ names with the values set', async () => {
  metrics.framesProcessed.inc({ camera: 'cam-a' }, 3);
  metrics.framesSkipped.inc({ camera: 'cam-a' }, 2);
  for (const s of [0.03, 0.07, 0.2]) metrics.inferenceLatency.observe({ camera: 'cam-a' }, s);
  metrics.score.set({ camera: 'cam-a' }, 0.42);
  metrics.events.inc({ camera: 'cam-a', type: 'new' });
  metrics.outboxDepth.set(5);
  metrics.outboxEvicted.inc(2);
  metrics.mqttConnected.set(1);
  metrics.setRetuneState('tuning');

  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const lines = (await res.text()).split('\n');
  for (const expected of [
    'linewatch_frames_processed_total{camera="cam-a"} 3',
    'linewatch_frames_skipped_total{camera="cam-a"} 2',
    'linewatch_inference_latency_seconds_bucket{le="0.025",camera="cam-a"} 0',
    'linewatch_inference_latency_seconds_bucket{le="0.05",camera="cam-a"} 1',
    'linewatch_inference_latency_seconds_bucket{le="0.1",camera="cam-a"} 2',
    'linewatch_inference_latency_seconds_bucket{le="0.2",camera="cam-a"} 3',
    'linewatch_inference_latency_seconds_count{camera="cam-a"} 3',
    'linewatch_anomaly_score{camera="cam-a"} 0.42',
    'linewatch_events_total{camera="cam-a",type="new"} 1',
    'linewatch_outbox_depth 5',
    'linewatch_outbox_evicted_total 2',
    'linewatch_mqtt_connected 1',
    'linewatch_retune_state{state="tuning"} 1',
    'linewatch_retune_state{state="idle"} 0',
  ]) {
    assert.ok(lines.includes(expected), `missing: ${expected}`);
  }
  const names = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.ok(names.length > 10);
  assert.deepEqual(
    names.filter((n) => !n.startsWith('linewatch_')),
    [],
  );
  assert.ok(names.includes('linewatch_process_resident_memory_bytes'));
});

test('/healthz answers 200 when healthy and 503 when not, with the checks', async () => {
  let res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { healthy: true, checks: { mqtt: { ok: true } } });
  view.health_ = { healthy: false, checks: { mqtt: { ok: false, detail: 'broker unreachable' } } };
  res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { healthy: false, checks: { mqtt: { ok: false, detail: 'broker unreachable' } } });
  view.health_ = { healthy: true, checks: { mqtt: { ok: true } } };
});

test('the JSON and image endpoints serve what the view holds; unknown paths and methods are refused', async () => {
  assert.deepEqual(await (await fetch(`${base}/api/state`)).json(), STATE);
  const frame = await fetch(`${base}/api/cameras/cam-a/frame`);
  assert.equal(frame.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await frame.arrayBuffer()), view.frames.frame);
  assert.equal((await fetch(`${base}/api/cameras/cam-b/frame`)).status, 404);
  assert.equal((await fetch(`${base}/api/cameras/%E0%A4%A/frame`)).status, 400);
  assert.equal((await fetch(`${base}/nowhere`)).status, 404);
  const wrongMethod = await fetch(`${base}/api/state`, { method: 'POST' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET');
});

test('commands over HTTP go through the dispatcher; non-JSON, cross-origin and oversized posts are refused', async () => {
  const post = (name: string, body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
    fetch(`${base}/api/cmd/${name}`, { method: 'POST', headers, body });
  const before = recorded.calls.length;
  assert.equal((await post('reload', '{}', { 'Content-Type': 'text/plain' })).status, 415);
  assert.equal((await post('reload', '{}', { 'Content-Type': 'application/json', Origin: 'http://evil.example' })).status, 403);
  assert.equal((await post('reload', ' '.repeat(64 * 1024 + 1))).status, 413);
  const unknown = await post('explode', '{}');
  assert.equal(unknown.status, 400);
  assert.deepEqual(await unknown.json(), { ok: false, command: 'explode', error: 'unknown command "explode"' });
  const badArgs = await post('set', '{"threshold": 2}');
  assert.equal(badArgs.status, 400);
  // an inherited name as a key is an unknown field (it used to be a 500 from a lookup on the prototype)
  const inherited = await post('status', '{"__proto__":1}');
  assert.equal(inherited.status, 400);
  assert.match(((await inherited.json()) as { error: string }).error, /unknown field "__proto__" for status/);
  assert.equal(recorded.calls.length, before, 'no refused command reached a handler');

  const good = await post('set', '{"request_id":"h1","camera":"cam-a","threshold":0.3}');
  assert.equal(good.status, 200);
  assert.deepEqual(await good.json(), { ok: true, command: 'set', request_id: 'h1', result: { done: 'set' } });
  assert.deepEqual(recorded.calls.slice(before), [['set', { camera: 'cam-a', threshold: 0.3 }]]);
});

/** A request with a Host header of our choosing (fetch does not let a caller set Host). */
function withHost(
  method: 'GET' | 'POST',
  path: string,
  host: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path, headers: { ...headers, Host: host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('DNS rebinding: a foreign Host is answered 421 before routing, even when Origin matches it; loopback names and allowed_hosts pass', async () => {
  const port = server.port;
  const json = { 'Content-Type': 'application/json' };
  const set = '{"threshold":0.9}';
  const before = recorded.calls.length;
  for (const host of [
    `evil.example:${port}`,
    'evil.example',
    `localhost.evil.example:${port}`,
    `127.0.0.1.evil.example:${port}`,
    `gateway.plant.local:${port}`,
    `localhost:${port + 1}`,
    `[fd00::8]:${port}`,
  ]) {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/state'],
      ['POST', '/api/cmd/set'],
    ] as const) {
      const res = await withHost(method, path, host, method === 'POST' ? json : {}, method === 'POST' ? set : '');
      assert.equal(res.status, 421, `${method} ${path} Host ${host}`);
      assert.match(res.type, /^text\/plain/);
      assert.match(res.text, /not answer to host|no Host/);
      assert.doesNotMatch(res.text, /line1-node/, 'nothing of the state leaks');
    }
  }
  // HTTP/1.0 may leave Host out: nothing says which name the client meant
  const noHost = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.end('GET /api/state HTTP/1.0\r\n\r\n'));
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString()));
    sock.on('error', reject);
  });
  assert.match(noHost, /^HTTP\/1\.1 421 [\s\S]*no Host header/);
  // the attack as a browser makes it: the rebound name in both Host and Origin
  const rebound = await withHost('POST', '/api/cmd/set', `evil.example:${port}`, { ...json, Origin: `http://evil.example:${port}` }, set);
  assert.equal(rebound.status, 421);
  assert.equal(recorded.calls.length, before, 'no refused request reached a handler');

  for (const host of [
    `localhost:${port}`,
    `LOCALHOST:${port}`,
    `127.0.0.1:${port}`,
    `[::1]:${port}`,
    `line1.plant.local:${port}`,
    'line1.plant.local:80',
    'gateway.plant.local:8443',
    `[FD00::7]:${port}`,
  ]) {
    assert.equal((await withHost('GET', '/api/state', host)).status, 200, `Host ${host}`);
  }
  // a trusted page (loopback, own Host and Origin) needs no signature even though a secret is set
  const fromPage = await withHost('POST', '/api/cmd/set', `localhost:${port}`, { ...json, Origin: `http://localhost:${port}` }, '{"threshold":0.2}');
  assert.equal(fromPage.status, 200, fromPage.text);
  // the Origin check stays: a matching Host with another Origin is 403
  assert.equal((await withHost('POST', '/api/cmd/set', `localhost:${port}`, { ...json, Origin: `http://127.0.0.1:${port + 1}` }, set)).status, 403);
  assert.deepEqual(recorded.calls.slice(before), [['set', { threshold: 0.2 }]]);
});

interface Canvas2d {
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}

const skipChromium = chromiumMissing;

describe('live page in headless Chromium', { skip: skipChromium }, () => {
  test('shows cameras, score, prompt set, the demo banner and the overlay; the re-tune button reaches the handler', TEST_TIMEOUT, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const foreign: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(base)) foreign.push(r.url());
      });
      await page.goto(`${base}/`);
      await page.waitForSelector('.camera[data-camera="cam-b"]');

      assert.deepEqual(await page.locator('.camera .camera-name').allTextContents(), ['cam-a', 'cam-b']);
      const camA = page.locator('.camera[data-camera="cam-a"]');
      const camB = page.locator('.camera[data-camera="cam-b"]');
      assert.equal(await camA.locator('.score').textContent(), '0.734');
      assert.equal(await camA.locator('.threshold').textContent(), '0.500');
      assert.equal(await camA.locator('.scorer-scores').textContent(), 'prompt 0.612 · memory 0.081');
      assert.equal(await camB.locator('.scorer-scores').textContent(), '–');
      assert.equal(await camA.locator('.prompt-set').textContent(), 'ps-0007');
      assert.equal(await camB.locator('.prompt-set').textContent(), 'ps-0002');
      assert.equal(await camB.locator('.camera-status').textContent(), 'offline: no frame for 12 s');
      assert.equal(await page.locator('#demo-banner').isVisible(), true);
      assert.equal(await page.locator('#demo-banner').textContent(), 'demo model with random weights: scores mean nothing until real CLIP weights are pulled');
      // Score history: three points, the last at the right edge at height 80 - 0.734 * 80.
      const points = (await camA.locator('svg.history polyline').getAttribute('points')) ?? '';
      const last = points.split(' ').at(-1)?.split(',').map(Number);
      assert.equal(points.split(' ').length, 3);
      assert.equal(last?.[0], 300);
      assert.ok(Math.abs((last?.[1] ?? 0) - 21.28) < 1e-9);

      // The frame with the overlay: red over the anomalous left half, the grey frame on the right.
      await page.waitForSelector('.camera[data-camera="cam-a"] canvas.frame[data-frame-id="17"]');
      const [leftPx, rightPx] = await camA.locator('canvas.frame').evaluate((element) => {
        // Runs in the page; typed by hand because this project compiles without the DOM library.
        const ctx = (element as unknown as Canvas2d).getContext('2d');
        return [Array.from(ctx.getImageData(4, 10, 1, 1).data), Array.from(ctx.getImageData(36, 10, 1, 1).data)];
      });
      // 60 % red over grey 100: 0.6*255 + 0.4*100 = 193, 0.4*100 = 40.
      const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 3);
      assert.ok(near(leftPx, [193, 40, 40, 255]), `left ${leftPx}`);
      assert.ok(near(rightPx, [100, 100, 100, 255]), `right ${rightPx}`);

      const before = recorded.calls.length;
      await camA.locator('button.retune').click();
      await camA.locator('.cmd-reply', { hasText: 're-tune requested' }).waitFor();
      assert.equal(await camA.locator('.cmd-reply').textContent(), 're-tune requested');
      assert.deepEqual(recorded.calls.slice(before), [['retune', { camera: 'cam-a' }]]);
      assert.deepEqual(foreign, [], 'the page loads nothing from outside the agent');
    } finally {
      await browser.close();
    }
  });
});

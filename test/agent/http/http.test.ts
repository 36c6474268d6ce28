import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { createCommandDispatcher } from '../../../agent/commands/dispatcher.ts';
import type { AgentState, AgentView, HealthReport } from '../../../agent/http/agent-view.ts';
import type { PromptSetHistory } from '../../../agent/http/prompt-set-history.ts';
import { type RunningHttpServer, startHttpServer } from '../../../agent/http/server.ts';
import { type AgentMetrics, createAgentMetrics } from '../../../agent/stats/prometheus-metrics.ts';
import { chromiumMissing, launchChromium } from '../../support/chromium.ts';
import { recordingHandlers } from '../../support/recording-handlers.ts';

const TEST_TIMEOUT = { timeout: 60_000 }; // a hang guard, not an assertion on speed

/** Test double of the running agent: fixed cameras, a grey frame, a mask hot on its left half. */
class FakeAgentView implements AgentView {
  health_: HealthReport = { healthy: true, checks: { mqtt: { ok: true } } };
  /** Which thumbnails were asked for: a name the server refuses must never get here. */
  readonly thumbnailsAsked: string[] = [];
  constructor(
    readonly frames: { frame: Buffer; mask: Buffer; thumbnail: Buffer },
    readonly agentState: AgentState,
    readonly history: PromptSetHistory,
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
  async eventThumbnail(camera: string, eventId: string) {
    this.thumbnailsAsked.push(`${camera}/${eventId}`);
    return camera === 'cam-a' && eventId === EVENT_ID ? this.frames.thumbnail : null;
  }
  async promptSets() {
    return this.history;
  }
}

const EVENT_ID = '0b7c1d52-5b7e-4c39-9d0e-2f1a3c4b5d6e';
/** A string a hostile prompt set file could carry: the page must show it as text, never parse it. */
const HOSTILE = '<img src=x onerror="document.title=`pwned`"><b>bold</b>';

const PROMPT_SETS: PromptSetHistory = {
  active: 'ps-0007',
  sets: [
    { id: 'ps-0007', created: '2026-03-02T08:00:00.000Z', status: 'accepted', reasons: [], metrics: { synthetic_auroc: 0.9312, normal_fpr: 0 }, current: true },
    {
      id: 'ps-0006',
      created: '2026-03-01T08:00:00.000Z',
      status: 'rejected',
      reasons: [HOSTILE],
      metrics: { synthetic_auroc: 0.7, normal_fpr: 0.02, current_synthetic_auroc: 0.88, current_normal_fpr: 0.001 },
      current: false,
    },
  ],
};

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
      overrides: { sensitivity: 0.5, threshold: null },
      anomalous: true,
      prompt_set: 'ps-0007',
      history: [
        { ts: 1, score: 0.1 },
        { ts: 2, score: 0.4 },
        { ts: 3, score: 0.734 },
      ],
      events: [
        { id: EVENT_ID, open: true, start_ts: Date.parse('2026-03-02T09:15:00Z'), end_ts: null, duration_ms: 12_400, max_score: 0.734, thumbnail_ts: 3 },
        {
          id: 'e-older',
          open: false,
          start_ts: Date.parse('2026-03-02T09:00:00Z'),
          end_ts: Date.parse('2026-03-02T09:02:05Z'),
          duration_ms: 125_000,
          max_score: 0.61,
          thumbnail_ts: null,
        },
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
      overrides: { sensitivity: 0.7, threshold: 0.3 },
      anomalous: false,
      prompt_set: 'ps-0002',
      history: [],
      events: [],
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
  const thumbnail = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .jpeg()
    .toBuffer();
  view = new FakeAgentView({ frame, mask, thumbnail }, STATE, PROMPT_SETS);
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

test('event thumbnails by camera and event id: names are checked before the view is asked; prompt sets as the view lists them', async () => {
  const ok = await fetch(`${base}/api/events/cam-a/${EVENT_ID}.jpg?t=3`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual(Buffer.from(await ok.arrayBuffer()), view.frames.thumbnail);
  assert.equal((await fetch(`${base}/api/events/cam-a/0b7c1d52-0000-4c39-9d0e-2f1a3c4b5d6e.jpg`)).status, 404);
  assert.equal((await fetch(`${base}/api/events/cam-b/${EVENT_ID}.jpg`)).status, 404);
  const asked = view.thumbnailsAsked.length;
  for (const bad of [
    `/api/events/..%2F..%2Fetc/${EVENT_ID}.jpg`,
    '/api/events/cam-a/..%2Fpasswd.jpg',
    '/api/events/cam-a/a.b.jpg',
    `/api/events/%3Cscript%3E/${EVENT_ID}.jpg`,
    `/api/events/cam-a/${'a'.repeat(65)}.jpg`,
    `/api/events/cam%00a/${EVENT_ID}.jpg`,
  ]) {
    const res = await fetch(`${base}${bad}`);
    assert.equal(res.status, 400, bad);
    assert.match(((await res.json()) as { error: string }).error, /\/api\/events\/<camera>\/<event id>\.jpg/);
  }
  assert.equal(view.thumbnailsAsked.length, asked, 'a refused name never reached the view');
  assert.deepEqual(await (await fetch(`${base}/api/prompt-sets`)).json(), PROMPT_SETS);
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

/** Waits until the image `selector` names has loaded (a broken image never does). */
function thumbnailLoaded(page: Page, selector: string): Promise<unknown> {
  return page.waitForFunction((sel) => {
    // Runs in the page; typed by hand because this project compiles without the DOM library.
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } }).document;
    const img = doc.querySelector(sel);
    return Boolean(img?.complete && img.naturalWidth > 0);
  }, selector);
}

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

  test(
    'events with thumbnails, settings in force, prompt sets (strings as text), re-tune phase; set and rollback reach the dispatcher',
    TEST_TIMEOUT,
    async () => {
      const idle = STATE.retune;
      STATE.retune = { state: 'tuning', progress: 0.42, job_id: 'j1', trigger: 'command', ts: 1 };
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(`${base}/`);
        const camA = page.locator('.camera[data-camera="cam-a"]');
        const camB = page.locator('.camera[data-camera="cam-b"]');
        await camA.locator('li.event').nth(1).waitFor();
        // the threshold line of the history sits at the threshold: 80 - 0.5 * 80
        assert.equal(await camA.locator('svg.history line.threshold-line').getAttribute('y1'), '40');
        assert.equal(await camA.locator('.verdict-badge').textContent(), 'ANOMALY');
        assert.equal(await camB.locator('.verdict-badge').textContent(), 'OFFLINE');

        // events, newest first: the open one with its thumbnail loaded, the closed one without
        const open = camA.locator(`li.event[data-event-id="${EVENT_ID}"]`);
        assert.equal(await open.getAttribute('data-open'), 'true');
        assert.equal(await open.locator('.event-state').textContent(), 'OPEN');
        assert.equal(await open.locator('.event-duration').textContent(), '12 s');
        assert.equal(await open.locator('.event-max').textContent(), 'max 0.734');
        await thumbnailLoaded(page, `li.event[data-event-id="${EVENT_ID}"] img.thumb`);
        assert.equal(await open.locator('img.thumb').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), 16);
        const older = camA.locator('li.event').nth(1);
        assert.equal(await older.getAttribute('data-event-id'), 'e-older');
        assert.equal(await older.locator('.event-state').textContent(), 'closed');
        assert.equal(await older.locator('.event-duration').textContent(), '2 min 5 s');
        assert.equal(await older.locator('img.thumb').getAttribute('src'), null, 'no thumbnail asked for before one is encoded');
        assert.equal(await camB.locator('.no-events').isVisible(), true);

        // the settings in force
        assert.equal(await camB.locator('.sensitivity-input').inputValue(), '0.7');
        assert.equal(await camB.locator('.threshold-input').inputValue(), '0.3');
        assert.equal(await camB.locator('.threshold-in-force').textContent(), 'in force: 0.300, set by command; decides at 0.500');
        assert.equal(await camA.locator('.threshold-in-force').textContent(), "in force: the prompt set's; decides at 0.500");

        // the re-tune's phase and progress
        assert.equal(await page.locator('#retune-phase').textContent(), 'tuning 42 % (by command)');
        assert.equal(await page.locator('#retune-phases li[data-phase="tuning"]').getAttribute('data-state'), 'now');
        assert.equal(await page.locator('#retune-phases li[data-phase="collecting"]').getAttribute('data-state'), 'past');

        // prompt sets: the current marker, the gate metrics, a hostile reason shown as text
        const sets = page.locator('li.prompt-set');
        await sets.nth(1).waitFor();
        assert.deepEqual(await sets.evaluateAll((lis) => lis.map((li) => (li as unknown as { dataset: { id: string } }).dataset.id)), ['ps-0007', 'ps-0006']);
        assert.equal(await sets.nth(0).locator('.current-marker').textContent(), 'current');
        assert.equal(await sets.nth(1).locator('.current-marker').count(), 0);
        assert.equal(await sets.nth(0).locator('.set-gate').textContent(), 'synthetic AUROC 0.931 · normal FPR 0.000');
        assert.equal(await sets.nth(1).locator('.set-gate').textContent(), 'synthetic AUROC 0.700 · normal FPR 0.020 (gated against 0.880 · 0.001)');
        assert.equal(await sets.nth(1).locator('.set-reasons').textContent(), HOSTILE);
        assert.equal(
          await page.locator('#prompt-sets-panel img, #prompt-sets-panel b:not(#active-set)').count(),
          0,
          'nothing of the reason was parsed as HTML',
        );
        assert.equal(await page.title(), 'linewatch');

        const before = recorded.calls.length;
        // set: the typed value goes to the dispatcher for that camera
        await camA.locator('.threshold-input').fill('0.25');
        await camA.locator('.apply-threshold').click();
        await camA.locator('.set-reply', { hasText: 'threshold set to 0.250' }).waitFor();
        // a dismissed confirmation sends nothing; an accepted one sends rollback
        page.once('dialog', (d) => void d.dismiss());
        await page.locator('#rollback').click();
        page.once('dialog', (d) => void d.accept());
        await page.locator('#rollback').click();
        await page.locator('#rollback-reply', { hasText: 'rolled back' }).waitFor();
        await page.locator('#retune-all').click();
        await page.locator('#retune-reply', { hasText: 're-tune requested' }).waitFor();
        assert.deepEqual(recorded.calls.slice(before), [
          ['set', { camera: 'cam-a', threshold: 0.25 }],
          ['rollback', {}],
          ['retune', {}],
        ]);
      } finally {
        STATE.retune = idle;
        await browser.close();
      }
    },
  );
});

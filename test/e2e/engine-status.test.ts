// What a TensorRT session start looks like from outside. There is no GPU here, so TensorRT is the
// test double test/support/slow-tensorrt-provider.mjs (session creation takes seconds, as an engine
// build does, then runs on the CPU). While it builds, P/status, /healthz and the page say so with
// the elapsed time; then P/status is `online`. With an engine in the bundle's cache directory the
// start says the cached engine is loaded, and how long that took.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { buildBundle } from '../../models/bundle/build.ts';
import { DEFAULT_PROVIDER_SETTINGS } from '../../models/runtime/execution-providers.ts';
import { createSession } from '../../models/session.ts';
import type { Logger } from '../../util/log.ts';
import { chromiumMissing, launchChromium } from '../support/chromium.ts';
import { findExecutable, freePort, observer, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';

const DOUBLE = path.join(REPO_ROOT, 'test/support/slow-tensorrt-provider.mjs');
const BUILD_MS = 12_000;
const BUILDING = /^building TensorRT engine for vision\.onnx \(first start with this bundle\), \d+ s$/;
const mosquitto = findExecutable('mosquitto');

const agents = new Set<ChildProcess>();
after(() => {
  for (const a of agents) a.kill('SIGKILL');
});

/** `promise`, or a failure naming what never came (generous: the CPU is shared). */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function tinyBundle(dir: string): Promise<string> {
  const bundle = path.join(dir, 'bundle');
  const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
  assert.ok(built.ok, built.ok ? '' : built.error);
  return bundle;
}

test('a slow TensorRT start shows "building TensorRT engine" on P/status, /healthz and the page, then online', {
  skip: !mosquitto ? 'mosquitto is not installed' : chromiumMissing,
  timeout: 240_000,
}, async (t) => {
  const dir = await tempDir();
  const bundle = await tinyBundle(dir);
  const broker = await startMosquitto(mosquitto!);
  t.after(() => broker.stop());
  const port = await freePort();
  const config = path.join(dir, 'agent.yaml');
  await fs.writeFile(
    config,
    `device_id: gpu1\ndata_dir: ${path.join(dir, 'var')}\nmodel: { bundle: ${bundle}, execution_providers: [tensorrt, cpu] }\nmqtt: { url: "${broker.url}", topic_prefix: lw }\nhttp: { port: ${port} }\n`,
  );
  const browser = await launchChromium();
  t.after(() => browser.close());
  const watch = await observer(broker.url, { clientId: 'scada' }, ['lw/gpu1/status']);

  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/linewatch.js'), 'run', '--config', config], {
    env: { ...process.env, NODE_OPTIONS: `--import ${DOUBLE}`, LW_SLOW_TENSORRT_MS: String(BUILD_MS) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  agents.add(child);
  t.after(() => child.kill('SIGKILL'));
  const log: string[] = [];
  child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));

  const status = (m: { topic: string }) => m.topic === 'lw/gpu1/status';
  const building = await within(
    90_000,
    'building line on P/status',
    watch.next((m) => status(m) && BUILDING.test(m.payload.toString())),
  );
  const from = watch.got.indexOf(building);

  const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as {
    healthy: boolean;
    checks: Record<string, { ok: boolean; detail?: string }>;
  };
  assert.equal(health.healthy, false);
  assert.match(health.checks.inference.detail ?? '', BUILDING);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector('#engine-banner:not([hidden])', { timeout: 30_000 });
  assert.match((await page.locator('#engine-banner').textContent()) ?? '', BUILDING);

  const online = await within(
    90_000,
    '`online` after the build',
    watch.next((m) => status(m) && m.payload.toString() === 'online', from),
  );
  assert.ok(watch.got.indexOf(online) > from);
  await page.waitForSelector('#engine-banner', { state: 'hidden', timeout: 30_000 });
  const state = (await (await fetch(`http://127.0.0.1:${port}/api/state`)).json()) as { engine?: string };
  assert.equal(state.engine, undefined);
  assert.ok(
    log.some((l) => l.endsWith('building TensorRT engine for vision.onnx (first start with this bundle; this can take minutes)')),
    log.join('\n'),
  );
  assert.ok(
    log.some((l) => /vision\.onnx: TensorRT engine built in \d+\.\d s/.test(l)),
    log.join('\n'),
  );
  assert.ok(
    log.some((l) => l.includes('no engine was written to') && l.includes(path.join('trt-cache', 'bundle-'))),
    'the cache warning names the bundle cache dir',
  );
  child.kill('SIGTERM');
  await watch.next((m) => status(m) && m.payload.toString() === 'stopped', watch.got.indexOf(online));
});

test('with an engine in the cache directory, the start says the cached engine is loaded and how long it took', async () => {
  await import(DOUBLE); // TensorRT here is the test double, in this process
  const dir = await tempDir();
  const bundle = await tinyBundle(dir);
  const cache = path.join(dir, 'trt-cache', 'bundle-0123');
  await fs.mkdir(cache, { recursive: true });
  await fs.writeFile(path.join(cache, 'TensorrtExecutionProvider_TRTKernel_graph_main_0.engine'), 'engine');
  const lines: string[] = [];
  const logger: Logger = { debug: () => {}, info: (m) => void lines.push(m), warn: (m) => void lines.push(m), error: (m) => void lines.push(m) };
  const starts: unknown[] = [];
  process.env.LW_SLOW_TENSORRT_MS = '10';
  const { session, provider } = await createSession(path.join(bundle, 'vision.onnx'), {
    providers: ['tensorrt', 'cpu'],
    settings: { ...DEFAULT_PROVIDER_SETTINGS, tensorrtCacheDir: cache },
    onTensorrtStart: (s) => starts.push(s),
    logger,
  });
  await session.release();
  assert.equal(provider, 'tensorrt');
  assert.deepEqual(starts, [{ graph: 'vision.onnx', cached: true }]);
  assert.equal(lines[0], `vision.onnx: loading the cached TensorRT engine from ${cache}`);
  assert.match(lines[1], /^vision\.onnx: cached TensorRT engine loaded in \d+\.\d s$/);
});

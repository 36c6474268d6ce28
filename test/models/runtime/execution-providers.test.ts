// The one execution-provider table: what each provider hands onnxruntime (sessionOptions), which
// ORT_* variables its settings become, where a bundle's engines are cached, and that the variables
// land in the process environment that native code reads, although inference runs in a worker.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Engine } from '../../../agent/engine/engine.ts';
import { promptScorerState } from '../../../agent/scoring/prompt-scorer.ts';
import { buildBundle } from '../../../models/bundle/build.ts';
import { loadBundle } from '../../../models/bundle/load.ts';
import { DEFAULT_PROVIDER_SETTINGS, type ProviderSettings, providerEnvironment, withCpuFallback } from '../../../models/runtime/execution-providers.ts';
import { cachedEngineCount, tensorrtCacheDir } from '../../../models/runtime/tensorrt-engine-cache.ts';
import { sessionOptions } from '../../../models/session.ts';
import { TINY_CLIP } from '../../support/paths.ts';

const settings: ProviderSettings = {
  tensorrt: { fp16: true, engine_cache: true, dla_core: 1, workspace_mb: 512 },
  cuda: { device_id: 1 },
  tensorrtCacheDir: '/data/trt-cache/b-0123',
};

/** The variables as native code sees them: the diagnostic report reads the process environment itself. */
const nativeEnvironment = () => (process.report.getReport() as { environmentVariables: Record<string, string> }).environmentVariables;

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-providers-'));
});
after(() => fs.rm(tmp, { recursive: true, force: true }));

test('the settings reach the session factory for tensorrt and cuda (device id), not for cpu', () => {
  assert.deepEqual(sessionOptions(['tensorrt', 'cuda', 'cpu'], settings).executionProviders, [
    { name: 'tensorrt', deviceId: 1 },
    { name: 'cuda', deviceId: 1 },
    'cpu',
  ]);
  assert.deepEqual(sessionOptions(['cpu'], settings, 2).executionProviders, ['cpu']);
  assert.equal(sessionOptions(['cpu'], settings, 2).intraOpNumThreads, 2);
});

test('the TensorRT settings become the documented ORT_TENSORRT_* variables; cuda and cpu have none', () => {
  assert.deepEqual(providerEnvironment(['tensorrt', 'cuda', 'cpu'], settings), {
    ORT_TENSORRT_FP16_ENABLE: '1',
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: '/data/trt-cache/b-0123',
    ORT_TENSORRT_DLA_ENABLE: '1',
    ORT_TENSORRT_DLA_CORE: '1',
    ORT_TENSORRT_MAX_WORKSPACE_SIZE: String(512 * 1024 * 1024),
  });
  assert.deepEqual(providerEnvironment(['cuda', 'cpu'], settings), {});
  assert.deepEqual(providerEnvironment(['cpu'], settings), {});
  // No cache directory (tuning, checks) or engine_cache off: the cache stays off, the GPU keeps DLA off.
  assert.deepEqual(providerEnvironment(['tensorrt'], { ...DEFAULT_PROVIDER_SETTINGS, tensorrt: { ...DEFAULT_PROVIDER_SETTINGS.tensorrt, fp16: false } }), {
    ORT_TENSORRT_FP16_ENABLE: '0',
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '0',
    ORT_TENSORRT_TIMING_CACHE_ENABLE: '0',
    ORT_TENSORRT_DLA_ENABLE: '0',
  });
});

test('tuning runs on the configured providers with cpu last', () => {
  assert.deepEqual(withCpuFallback(['tensorrt', 'cuda']), ['tensorrt', 'cuda', 'cpu']);
  assert.deepEqual(withCpuFallback(['cuda', 'cpu']), ['cuda', 'cpu']);
});

test('engines are cached per bundle: another build of the same bundle name gets its own directory', async () => {
  const a = tensorrtCacheDir('/var/lw', { id: 'clip-b16', sha256: 'a'.repeat(64) });
  const b = tensorrtCacheDir('/var/lw', { id: 'clip-b16', sha256: 'b'.repeat(64) });
  assert.equal(a, path.join('/var/lw', 'trt-cache', `clip-b16-${'a'.repeat(16)}`));
  assert.notEqual(a, b);
  const dir = path.join(tmp, 'cache');
  assert.equal(await cachedEngineCount(dir), 0); // missing
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'TensorrtExecutionProvider_TRTKernel_graph_0.engine'), '');
  await fs.writeFile(path.join(dir, 'TensorrtExecutionProvider.timing'), '');
  assert.equal(await cachedEngineCount(dir), 1);
});

test("a worker thread's process.env writes never reach native code; the main thread's do", async () => {
  process.env.LW_PROBE_MAIN = 'main';
  const seen = await new Promise<Record<string, string | undefined>>((resolve, reject) => {
    const w = new Worker(
      `process.env.LW_PROBE_WORKER = 'worker';
       const env = process.report.getReport().environmentVariables;
       require('node:worker_threads').parentPort.postMessage({ worker: env.LW_PROBE_WORKER, main: env.LW_PROBE_MAIN });`,
      { eval: true },
    );
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.deepEqual(seen, { worker: undefined, main: 'main' });
  assert.equal(nativeEnvironment().LW_PROBE_WORKER, undefined);
});

test('the inference engine sets them from the main thread before its worker creates the session', { timeout: 120_000 }, async () => {
  const out = path.join(tmp, 'bundle');
  assert.ok((await buildBundle({ weights: TINY_CLIP, out })).ok);
  const bundle = await loadBundle(out);
  assert.ok(bundle.ok);
  const m = bundle.value.manifest;
  const cacheDir = path.join(tmp, 'trt-cache', 'tiny');
  const starts: unknown[] = [];
  const engine = new Engine((s) => starts.push(s));
  try {
    assert.equal(nativeEnvironment().ORT_TENSORRT_CACHE_PATH, undefined);
    // No TensorRT here: the session falls back to cpu after the TensorRT attempt was announced.
    const provider = await engine.load(
      {
        visionPath: bundle.value.paths.vision,
        imageSize: m.vision.imageSize,
        mean: m.preprocess.mean,
        std: m.preprocess.std,
        providers: ['tensorrt', 'cpu'],
        threads: 1,
        settings: { ...settings, tensorrtCacheDir: cacheDir },
        scorerGraphs: {},
      },
      { prompt: promptScorerState(new Float32Array(2 * m.embedDim), { min: 0, max: 1, threshold: 0.5 }) },
    );
    assert.equal(provider, 'cpu');
    const native = nativeEnvironment();
    assert.equal(native.ORT_TENSORRT_CACHE_PATH, cacheDir);
    assert.equal(native.ORT_TENSORRT_FP16_ENABLE, '1');
    assert.equal(native.ORT_TENSORRT_DLA_CORE, '1');
    assert.deepEqual(starts, [{ graph: 'vision.onnx', cached: false }]);
    assert.ok((await fs.stat(cacheDir)).isDirectory(), 'the cache directory is made for onnxruntime, which creates only its last level');
  } finally {
    await engine.close();
  }
});

// model.tensorrt / model.cuda in the configuration: defaults, every key accepted, every bad value
// refused with its path, and the provider names taken from the one table.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../../agent/config.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'linewatch-providers-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function load(name: string, model: string, env: NodeJS.ProcessEnv = {}) {
  const file = path.join(tmp, name);
  writeFileSync(file, `device_id: t1\nmodel:\n${model}`);
  return loadConfig(file, env);
}

test("defaults: fp16 and the engine cache on, the GPU (no DLA), onnxruntime's workspace, device 0", () => {
  const r = load('defaults.yaml', '  threads: 0\n');
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.value.model.tensorrt, { fp16: true, engine_cache: true, dla_core: null, workspace_mb: null });
  assert.deepEqual(r.value.model.cuda, { device_id: 0 });
  assert.deepEqual(r.value.model.execution_providers, ['tensorrt', 'cuda', 'cpu']);
});

test('every new key is accepted from the file and from the environment', () => {
  const r = load('all.yaml', '  tensorrt:\n    fp16: false\n    engine_cache: false\n    dla_core: 1\n    workspace_mb: 512\n  cuda:\n    device_id: 2\n');
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.value.model.tensorrt, { fp16: false, engine_cache: false, dla_core: 1, workspace_mb: 512 });
  assert.deepEqual(r.value.model.cuda, { device_id: 2 });

  const e = load('env.yaml', '  threads: 0\n', {
    LINEWATCH_MODEL_TENSORRT_FP16: 'false',
    LINEWATCH_MODEL_TENSORRT_DLA_CORE: '0',
    LINEWATCH_MODEL_TENSORRT_WORKSPACE_MB: '2048',
    LINEWATCH_MODEL_CUDA_DEVICE_ID: '1',
  });
  assert.ok(e.ok, e.ok ? '' : e.error);
  assert.deepEqual(e.value.model.tensorrt, { fp16: false, engine_cache: true, dla_core: 0, workspace_mb: 2048 });
  assert.equal(e.value.model.cuda.device_id, 1);
});

test('each bad value is refused naming its path; int8 is not a key (no calibration table can be made here)', () => {
  const r = load(
    'bad.yaml',
    '  execution_providers: [tensorrt, dml]\n  tensorrt:\n    fp16: "yes"\n    engine_cache: 1\n    dla_core: 2\n    workspace_mb: 0\n    int8: true\n  cuda:\n    device_id: -1\n',
  );
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.error.split('\n').sort(), [
    'model.cuda.device_id: must be an integer >= 0 (got -1) (bad.yaml line 11)',
    'model.execution_providers: must be a non-empty list of tensorrt, cuda, cpu without repeats (got ["tensorrt","dml"]) (bad.yaml line 3)',
    'model.tensorrt.dla_core: must be null (the GPU), 0 or 1 (a DLA core of a Jetson Orin) (got 2) (bad.yaml line 7)',
    'model.tensorrt.engine_cache: must be true or false (got 1) (bad.yaml line 6)',
    'model.tensorrt.fp16: must be true or false (got "yes") (bad.yaml line 5)',
    'model.tensorrt.int8: unknown key (known: fp16, engine_cache, dla_core, workspace_mb) (bad.yaml line 9)',
    'model.tensorrt.workspace_mb: must be null or a whole number of MiB >= 1 (got 0) (bad.yaml line 8)',
  ]);
  const e = load('badenv.yaml', '  threads: 0\n', { LINEWATCH_MODEL_TENSORRT_WORKSPACE_MB: 'lots' });
  assert.deepEqual(e.ok ? [] : e.error.split('\n'), [
    'model.tensorrt.workspace_mb: must be null or a whole number of MiB >= 1 (got "lots") (from LINEWATCH_MODEL_TENSORRT_WORKSPACE_MB)',
  ]);
});

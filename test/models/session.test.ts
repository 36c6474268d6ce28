import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { createSession } from '../../models/session.ts';
import type { Logger } from '../../util/log.ts';

const { onnx } = onnxProto;

/** A one-node model y = a + b over float32 [2]. */
function addModel(): Uint8Array {
  const vector = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 2 }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'add', node: [{ opType: 'Add', input: ['a', 'b'], output: ['y'] }], input: [vector('a'), vector('b')], output: [vector('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
}

function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

// A GPU install of onnxruntime-node brings the CUDA provider library next to the binding; there
// the TensorRT/CUDA fallback cannot be observed.
const bindingDir = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
const gpuProvidersInstalled = existsSync(path.join(bindingDir, 'libonnxruntime_providers_cuda.so'));

let dir: string;
let modelPath: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'session-'));
  modelPath = path.join(dir, 'add.onnx');
  writeFileSync(modelPath, addModel());
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function runAdd(session: ort.InferenceSession): Promise<number[]> {
  const feeds = {
    a: new ort.Tensor('float32', Float32Array.from([1.5, -2]), [2]),
    b: new ort.Tensor('float32', Float32Array.from([0.25, 10]), [2]),
  };
  const out = await session.run(feeds);
  return Array.from(out.y.data as Float32Array);
}

test('[tensorrt, cuda, cpu] without GPU libraries falls back to cpu with one log line per failure', {
  skip: gpuProvidersInstalled && 'GPU providers installed',
}, async () => {
  const { logger, lines } = recordingLogger();
  const { session, provider } = await createSession(modelPath, { providers: ['tensorrt', 'cuda', 'cpu'], threads: 1, logger });
  try {
    assert.equal(provider, 'cpu');
    assert.deepEqual(await runAdd(session), [1.75, 8]);
    const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /^add\.onnx: execution provider tensorrt unavailable \(.*TensorRT.*\); trying cuda$/);
    assert.match(warnings[1], /^add\.onnx: execution provider cuda unavailable \(.*Cuda.*\); trying cpu$/);
    assert.deepEqual(
      lines.filter((l) => l.level === 'info').map((l) => l.msg),
      ['building TensorRT engine for add.onnx (engines are not cached here; this can take minutes)', 'add.onnx: running on cpu'],
    );
  } finally {
    await session.release();
  }
});

test('all configured providers failing is an error listing each', { skip: gpuProvidersInstalled && 'GPU providers installed' }, async () => {
  const { logger } = recordingLogger();
  await assert.rejects(
    createSession(modelPath, { providers: ['tensorrt', 'cuda'], logger }),
    /add\.onnx: no configured execution provider could run it \(tensorrt: .*; cuda: .*\)$/,
  );
});

test('an unknown provider name, an empty list and bad thread counts are rejected before loading', async () => {
  await assert.rejects(createSession(modelPath, { providers: ['cuda', 'tpu', 'cpu'] }), /unknown execution provider 'tpu'; known: tensorrt, cuda, cpu$/);
  // Windows' and macOS' providers: not in the Linux build of onnxruntime-node, so not in the table.
  await assert.rejects(
    createSession(modelPath, { providers: ['dml', 'coreml', 'cpu'] }),
    /unknown execution provider 'dml', 'coreml'; known: tensorrt, cuda, cpu$/,
  );
  await assert.rejects(createSession(modelPath, { providers: [] }), /execution provider list is empty/);
  await assert.rejects(createSession(modelPath, { providers: ['cpu'], threads: -1 }), /threads must be a whole number >= 0, not -1/);
});

test('a file that is not an ONNX model, or no file at all, is reported clearly', async () => {
  const notOnnx = path.join(dir, 'weights.onnx');
  writeFileSync(notOnnx, 'this is not a protobuf model');
  const { logger } = recordingLogger();
  await assert.rejects(
    createSession(notOnnx, { providers: ['tensorrt', 'cuda', 'cpu'], logger }),
    (e: Error) => e.message.startsWith(`${notOnnx} is not a loadable ONNX model: `) && /Protobuf parsing failed/.test(e.message),
  );
  await assert.rejects(createSession(path.join(dir, 'missing.onnx'), { providers: ['cpu'] }), /cannot open model .*missing\.onnx: ENOENT/);
  await assert.rejects(createSession(dir, { providers: ['cpu'] }), /is not a file/);
});

// Tuning on the configured execution providers (the agent passes model.execution_providers to its
// re-tune child as --providers): each tuning graph tries them in order, and one that a provider
// cannot run falls back to the CPU with one log line saying so.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GPU_PROVIDERS_INSTALLED } from '../support/gpu-providers.ts';
import { linewatch } from '../support/linewatch-cli.ts';
import { buildTinyBundle } from '../support/tiny-bundle.ts';
import { writeTexture } from '../support/tuning-fixtures.ts';

// With GPU provider libraries installed the fallback cannot be observed (see test/models/session.test.ts).

let work: string;
let bundleDir: string;
let normals: string;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-providers-tuning-'));
  bundleDir = await buildTinyBundle(path.join(work, 'bundle'));
  normals = path.join(work, 'normals');
  for (let i = 0; i < 5; i++) await writeTexture(path.join(normals, `n${i}.png`), i + 1);
});
after(() => fs.rm(work, { recursive: true, force: true }));

test('tune --providers tensorrt,cuda: every tuning graph says which provider failed and runs on the cpu', {
  skip: GPU_PROVIDERS_INSTALLED && 'GPU providers installed',
  timeout: 240_000,
}, async () => {
  const r = await linewatch(
    'tune',
    '--bundle',
    bundleDir,
    '--normals',
    normals,
    '--out',
    path.join(work, 'store'),
    '--steps',
    '2',
    '--providers',
    'tensorrt,cuda',
    '--progress',
    'json',
  );
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('WARN') && l.includes('unavailable'));
  for (const graph of ['text.onnx', 'text_vjp.onnx', 'vision.onnx']) {
    assert.ok(
      warnings.some((l) => l.includes(`${graph}: execution provider tensorrt unavailable`) && l.endsWith('trying cuda')),
      `${graph}: tensorrt line\n${r.stderr}`,
    );
    assert.ok(
      warnings.some((l) => l.includes(`${graph}: execution provider cuda unavailable`) && l.endsWith('trying cpu')),
      `${graph}: cpu fallback line\n${r.stderr}`,
    );
    assert.ok(r.stderr.includes(`${graph}: running on cpu`), graph);
  }
  assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1)!).type, 'result');
});

test('an unknown --providers name is a usage error naming the known ones', async () => {
  const r = await linewatch('tune', '--bundle', bundleDir, '--normals', normals, '--out', path.join(work, 'x'), '--providers', 'cuda,tpu');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--providers takes a comma-separated list of tensorrt, cuda, cpu, not 'cuda,tpu'/);
});

// bench:gpu on an install without GPU providers (this machine, CI) exits at once with what is
// missing and how to install it, instead of building a bundle and timing the CPU.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { GPU_PROVIDERS_INSTALLED } from '../support/gpu-providers.ts';
import { REPO_ROOT } from '../support/paths.ts';

function benchGpu(...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/gpu.ts', ...args], { cwd: REPO_ROOT }, (error, _stdout, stderr) =>
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stderr }),
    );
  });
}

test('without GPU provider libraries it exits 1 naming what is missing per provider and the install command', {
  skip: GPU_PROVIDERS_INSTALLED ? 'this machine has the GPU provider libraries' : false,
}, async () => {
  const r = await benchGpu();
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^bench:gpu: no GPU execution provider can run on this install, nothing to measure: tensorrt: .*libonnxruntime_providers_tensorrt\.so missing in \S+ \(ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/,
  );
  assert.match(r.stderr, /; cuda: .*libonnxruntime_providers_cuda\.so missing/);
  assert.doesNotMatch(r.stderr, /vit-b-16-224:/, 'no bundle was built');
});

test('a provider list without a GPU provider, or with an unknown name, is refused by name', async () => {
  const cpu = await benchGpu('--providers', 'cpu');
  assert.equal(cpu.code, 1);
  assert.match(cpu.stderr, /^bench:gpu: --providers names no GPU provider \(cpu\): nothing to measure/);
  const bogus = await benchGpu('--providers', 'cuda,tpu');
  assert.equal(bogus.code, 1);
  assert.match(bogus.stderr, /^bench:gpu: --providers takes a comma-separated list of .*, not 'cuda,tpu'/);
});

// Whether onnxruntime-node's CUDA provider library is installed on this machine (it is not on a
// CPU install such as CI's): tests of what happens without it skip where it is there.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const bindingDir = path.join(
  path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')),
  'bin',
  'napi-v6',
  process.platform,
  process.arch,
);

export const GPU_PROVIDERS_INSTALLED = existsSync(path.join(bindingDir, 'libonnxruntime_providers_cuda.so'));

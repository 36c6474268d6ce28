// Whether an execution provider can run on this machine: in this onnxruntime-node build, its
// provider libraries installed (onnxruntime-node's install script fetches them; the project's
// .npmrc skips it) and the NVIDIA libraries they link against visible to the loader. onnxruntime
// only says so by failing session creation; `linewatch doctor` and bench:gpu say it before.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { ExecutionProvider } from './execution-providers.ts';

export interface ProviderProblem {
  missing: string;
  action: string;
}

/** The providers this onnxruntime-node build was compiled with. */
export function builtProviders(): Set<string> {
  return new Set(ort.listSupportedBackends().map((b) => b.name));
}

const GPU_INSTALL = 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false (see README "GPU")';

/** Per GPU provider: onnxruntime-node's own provider libraries, and the system libraries they load. */
const NEEDS: Record<Exclude<ExecutionProvider, 'cpu'>, { ort: string[]; system: string[]; systemHint: string }> = {
  cuda: {
    ort: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
    system: ['libcudart.so.12', 'libcublas.so.12', 'libcudnn.so.9'],
    systemHint: 'install CUDA 12 and cuDNN 9 (or JetPack 6) and make them visible to ldconfig / LD_LIBRARY_PATH',
  },
  tensorrt: {
    ort: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'],
    system: ['libnvinfer.so.10', 'libcudart.so.12'],
    systemHint: 'install TensorRT 10 with CUDA 12 (or JetPack 6) and make it visible to ldconfig / LD_LIBRARY_PATH',
  },
};

function ortBinDir(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
}

/** `ldconfig -p`: the loader's cache. ldconfig lives in /sbin, which a service user's PATH may lack. */
async function loaderCache(): Promise<string> {
  for (const bin of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const out = await new Promise<string | null>((resolve) => {
      execFile(bin, ['-p'], { maxBuffer: 1 << 24 }, (error, stdout) => resolve(error ? null : stdout));
    });
    if (out !== null) return out;
  }
  return '';
}

/** Library names the dynamic loader knows: its cache plus the LD_LIBRARY_PATH folders. */
async function systemLibraries(names: string[]): Promise<Set<string>> {
  const cache = await loaderCache();
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return new Set(names.filter((n) => cache.includes(`${n} `) || dirs.some((d) => existsSync(path.join(d, n)))));
}

/** Null when `provider` can run here, else what is missing and what fixes it. */
export async function providerProblem(provider: ExecutionProvider, built: ReadonlySet<string> = builtProviders()): Promise<ProviderProblem | null> {
  if (provider === 'cpu') return null;
  if (!built.has(provider))
    return {
      missing: 'not in this onnxruntime-node build',
      action: `use a platform whose onnxruntime-node has ${provider}, or remove it from model.execution_providers`,
    };
  const needs = NEEDS[provider];
  const bin = ortBinDir();
  const ortMissing = needs.ort.filter((f) => !existsSync(path.join(bin, f)));
  if (ortMissing.length) return { missing: `${ortMissing.join(', ')} missing in ${bin}`, action: GPU_INSTALL };
  const found = await systemLibraries(needs.system);
  const sysMissing = needs.system.filter((n) => !found.has(n));
  if (sysMissing.length) return { missing: `${sysMissing.join(', ')} not found by the loader`, action: needs.systemHint };
  return null;
}

// TensorRT on this device: when tensorrt is configured, whether every graph of the bundle parses
// in TensorRT (the same operator-matrix check as `linewatch model check --target tensorrt`) and
// whether the next start builds engines (minutes per graph on a Jetson) or loads cached ones.
// Whether the provider itself loads is the execution-providers check's concern.

import type { AgentConfig } from '../../../agent/config.ts';
import { loadBundle } from '../../../models/bundle/load.ts';
import { cachedEngineCount, tensorrtCacheDir } from '../../../models/runtime/tensorrt-engine-cache.ts';
import { checkBundleForTensorrt, type TensorrtReport } from '../../../models/tensorrt/check-bundle.ts';
import { DEFAULT_TENSORRT_VERSION, matrixFor } from '../../../models/tensorrt/support-matrix.ts';
import { bundleIdentity } from '../../../tuning/bundle-identity.ts';
import { locateBundle } from '../bundle-location.ts';
import { type Check, type Finding, fail, ok, warn } from '../check.ts';

export const tensorrtCheck: Check = {
  name: 'tensorrt',
  // Reading every graph of a float32 ViT-L bundle takes a while on a small device.
  timeoutMs: 120_000,
  async run({ config }) {
    if (!config.model.execution_providers.includes('tensorrt')) return ok('not configured');
    const where = await locateBundle(config);
    if (where.kind !== 'present') return { status: 'skip', detail: `skipped: no bundle yet at ${where.dir}` };
    const matrix = matrixFor(DEFAULT_TENSORRT_VERSION);
    if (!matrix.ok) return fail(matrix.error, 'reinstall linewatch: its TensorRT operator matrix is missing or damaged');
    const report = await checkBundleForTensorrt(where.dir, matrix.value);
    if (!report.ok) return fail(report.error, 'the bundle check above names what is wrong with the bundle');
    if (!report.value.pass) return parseFailure(report.value);
    return ok(`${parsed(report.value)}; ${await engineCacheState(config, where.dir)}`);
  },
};

function parsed(r: TensorrtReport): string {
  return `${r.graphs.length} graphs parse in TensorRT ${r.tensorrtVersion}.x`;
}

function parseFailure(r: TensorrtReport): Finding {
  const failing = r.graphs.filter((g) => !g.pass);
  const ops = [...new Set(failing.flatMap((g) => g.problems.map((p) => p.op ?? 'graph')))];
  const graphs = failing.map((g) => g.graph).join(', ');
  const action =
    r.precision === 'int8'
      ? 'use a float32 bundle (model.precision: fp32): TensorRT builds its own reduced-precision engine (model.tensorrt.fp16)'
      : `run 'linewatch model check --bundle ${r.bundle} --target tensorrt' for every node; these graphs fall back to the next provider`;
  return warn(`${graphs} would not parse in TensorRT ${r.tensorrtVersion}.x (${ops.join(', ')})`, action);
}

async function engineCacheState(config: AgentConfig, bundleDir: string): Promise<string> {
  if (!config.model.tensorrt.engine_cache) return 'engine cache off (model.tensorrt.engine_cache): every start builds the engines again';
  const bundle = await loadBundle(bundleDir);
  if (!bundle.ok) return 'engine cache state unknown';
  const dir = tensorrtCacheDir(config.data_dir, await bundleIdentity(bundle.value));
  const engines = await cachedEngineCount(dir);
  return engines === 0
    ? `no cached engine in ${dir}: the first start builds one per graph (minutes each on a Jetson)`
    : `${engines} cached engine(s) in ${dir}: the next start loads them`;
}

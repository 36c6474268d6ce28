// Bundles from random weights for the benchmarks (speed does not depend on the values), cached
// under .bench-out/bundles/ and rebuilt when the dimensions change or when asked to (to time it).
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, buildBundle } from '../models/bundle/build.ts';
import type { WeightPrecision } from '../models/onnx/transformer.ts';
import { type ClipDims, writeRandomClip } from '../models/weights/random-weights.ts';

export const benchDir = fileURLToPath(new URL('../.bench-out/', import.meta.url));

export interface RandomBundleOptions {
  /** Build even when a cached bundle exists (the model benchmark times the build). */
  rebuild?: boolean;
  laa?: boolean;
  precision?: WeightPrecision;
}

export async function randomBundle(key: string, dims: ClipDims, opts: RandomBundleOptions = {}): Promise<{ dir: string; buildSeconds: number | null }> {
  const root = path.join(benchDir, 'bundles');
  const weights = path.join(root, `${key}-weights`);
  const dir = path.join(root, `${key}-bundle${opts.precision === 'int8' ? '-int8' : ''}`);
  const marker = path.join(weights, 'dims.json');
  const want = JSON.stringify(dims);
  const fresh = !existsSync(marker) || (await fs.readFile(marker, 'utf8')) !== want;
  if (fresh) {
    process.stderr.write(`${key}: writing random weights\n`);
    await writeRandomClip(weights, dims, 1);
    await fs.writeFile(marker, want);
  }
  if (!fresh && !opts.rebuild && existsSync(path.join(dir, 'manifest.json'))) return { dir, buildSeconds: null };
  const t0 = performance.now();
  const build: BuildOptions = {
    weights,
    out: dir,
    ...(opts.laa === false ? { laa: false } : {}),
    precision: opts.precision,
    onProgress: (done, total, step) => process.stderr.write(`${key}: [${Math.min(done + 1, total)}/${total}] ${step}\n`),
  };
  const built = await buildBundle(build);
  if (!built.ok) throw new Error(built.error);
  return { dir, buildSeconds: (performance.now() - t0) / 1000 };
}

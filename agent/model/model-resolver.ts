// `model.bundle` -> a bundle directory on disk:
//   a path     -> that bundle;
//   owner/name -> pulled from the Hugging Face hub and built once, under data_dir, at
//                 `model.precision` (one bundle per precision, from one download);
//   auto       -> the newest bundle installed under <data_dir>/bundles, else the demo bundle,
//                 built at first start from generated weights (its scores mean nothing).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildBundle } from '../../models/bundle/build.ts';
import { MANIFEST_FILE } from '../../models/bundle/manifest.ts';
import { hubSettingsFromEnv, pullRepo } from '../../models/hub-pull.ts';
import type { WeightPrecision } from '../../models/onnx/transformer.ts';
import { type ClipDims, writeRandomClip } from '../../models/weights/random-weights.ts';
import type { Logger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';
import type { BundleRef } from '../config.ts';

export const DEMO_BUNDLE = 'demo';

/**
 * The demo model: ViT-B/16's input geometry (224 px, 16 px patches) with a narrower, shallower
 * transformer, so the first start builds it in seconds and it runs fast on any CPU.
 */
const DEMO_DIMS: ClipDims = {
  embedDim: 256,
  activation: 'quick_gelu',
  vision: { imageSize: 224, patchSize: 16, width: 384, layers: 6, heads: 6 },
  text: { width: 256, layers: 4, heads: 4, vocabSize: 49408, contextLength: 77 },
};

export interface ResolvedBundle {
  dir: string;
  /** Generated weights: say so loudly, everywhere. */
  demo: boolean;
}

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

/** Bundle folders under `root` (not the demo), newest first. */
export async function installedBundles(root: string): Promise<string[]> {
  const names = await fs.readdir(root).catch(() => [] as string[]);
  const found: { dir: string; mtime: number }[] = [];
  for (const name of names) {
    if (name === DEMO_BUNDLE || name.startsWith('.')) continue;
    const manifest = path.join(root, name, MANIFEST_FILE);
    const stat = await fs.stat(manifest).catch(() => null);
    if (stat) found.push({ dir: path.join(root, name), mtime: stat.mtimeMs });
  }
  return found.sort((a, b) => b.mtime - a.mtime).map((f) => f.dir);
}

async function buildFrom(weights: string, out: string, precision: WeightPrecision, log: Logger): Promise<Result<string>> {
  let lastStep = '';
  const built = await buildBundle({
    weights,
    out,
    precision,
    onProgress: (_done, _total, step) => {
      if (step !== lastStep) log.info(`building bundle: ${step}`);
      lastStep = step;
    },
  });
  return built.ok ? ok(out) : err(built.error);
}

async function demoBundle(root: string, log: Logger): Promise<Result<string>> {
  const dir = path.join(root, DEMO_BUNDLE);
  if (await exists(path.join(dir, MANIFEST_FILE))) return ok(dir);
  log.warn('no model bundle installed: building the DEMO bundle from generated random weights; its scores mean nothing');
  const weights = path.join(root, '.demo-weights');
  await writeRandomClip(weights, DEMO_DIMS, 2024);
  const built = await buildFrom(weights, dir, 'fp32', log);
  await fs.rm(weights, { recursive: true, force: true });
  return built;
}

/** Where the bundle built from hub repo `repo` at `precision` lives. */
export function hubBundleDir(repo: string, precision: WeightPrecision, dataDir: string): string {
  return path.join(dataDir, 'bundles', repo.replaceAll('/', '__') + (precision === 'fp32' ? '' : `__${precision}`));
}

async function hubBundle(repo: string, precision: WeightPrecision, dataDir: string, log: Logger): Promise<Result<string>> {
  const dir = hubBundleDir(repo, precision, dataDir);
  if (await exists(path.join(dir, MANIFEST_FILE))) return ok(dir);
  const weights = path.join(dataDir, 'models-cache', repo.replaceAll('/', '__'));
  log.info(`pulling ${repo} from the Hugging Face hub into ${weights}`);
  const pulled = await pullRepo({ repo, outDir: weights, ...hubSettingsFromEnv(), logger: log });
  if (!pulled.ok) return err(`model.bundle ${repo}: ${pulled.error}`);
  return buildFrom(weights, dir, precision, log);
}

/** `precision` applies to bundles built from a hub download; the demo bundle is always float32. */
export async function resolveBundle(ref: BundleRef, precision: WeightPrecision, dataDir: string, log: Logger): Promise<Result<ResolvedBundle>> {
  const root = path.join(dataDir, 'bundles');
  if (ref.kind === 'dir') return ok({ dir: ref.path, demo: false });
  if (ref.kind === 'hub') {
    const r = await hubBundle(ref.repo, precision, dataDir, log);
    return r.ok ? ok({ dir: r.value, demo: false }) : r;
  }
  const [newest] = await installedBundles(root);
  if (newest) return ok({ dir: newest, demo: false });
  await fs.mkdir(root, { recursive: true });
  const r = await demoBundle(root, log);
  return r.ok ? ok({ dir: r.value, demo: true }) : r;
}

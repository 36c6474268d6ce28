// `linewatch model build`: CLIP weights -> a self-describing bundle directory (see manifest.ts).
// Everything is written into a temporary directory next to the target and renamed into place at
// the end, so a failed or interrupted build never leaves a partial bundle behind.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../util/result.ts';
import { buildMemoryGraph } from '../graphs/memory.ts';
import { buildTextGraph } from '../graphs/text.ts';
import { buildTextVjpGraph } from '../graphs/text-vjp.ts';
import { buildVisionGraph, type LaaSettings, LOGIT_SCALE, MIN_IMAGE_SIZE, SMOOTHING_SIGMA } from '../graphs/vision.ts';
import { ExternalWeights, GraphBuilder } from '../onnx/graph-builder.ts';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../onnx/transformer.ts';
import { defaultVocabPath } from '../tokenizer.ts';
import type { ClipWeights } from '../weights/clip-weights.ts';
import { readClipWeights } from '../weights/read-weights.ts';
import { encodeSafetensors } from '../weights/safetensors.ts';
import { sha256File } from './checksum.ts';
import { BUNDLE_FILES, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, MANIFEST_FILE, type Manifest } from './manifest.ts';

const VOCAB_LICENSE = 'LICENSE-clip-bpe';

export interface BuildOptions {
  /** Weights directory (OpenCLIP or Hugging Face layout). */
  weights: string;
  /** Bundle directory to create (an existing bundle there is replaced). */
  out: string;
  /** Default: the weights' image size. */
  imageSize?: number;
  /** 1-based blocks for `patch_embeds`. Default: four evenly spaced, ending at the last block. */
  layers?: number[];
  /** Default 1. */
  laaRadius?: number;
  /** Default: the last three blocks (blocks - 2). */
  laaFrom?: number;
  /** false builds plain CLIP attention everywhere. Default true. */
  laa?: boolean;
  /** The vision blocks' Linear layers: 'fp32' (default) or 'int8' (faster on CPU, approximate). */
  precision?: WeightPrecision;
  onProgress?: (done: number, total: number, step: string) => void;
}

/**
 * Four evenly spaced blocks ending at the last: ViT-B/16 (12 blocks) -> 3, 6, 9, 12; ViT-L/14
 * (24) -> 6, 12, 18, 24. Early-to-late features: mid layers carry local texture, the last one
 * semantics; averaging their anomaly probabilities is what WinCLIP/AnomalyCLIP-style heads do.
 */
export function defaultLayers(blocks: number): number[] {
  return [...new Set([1, 2, 3, 4].map((i) => Math.max(1, Math.round((i * blocks) / 4))))];
}

/**
 * LAA in the last three blocks with radius 1 (a 3x3 patch neighbourhood). The late blocks are
 * where CLIP's attention turns spatially uniform (every patch looks at the same few global
 * tokens), which is what washes out the locality of late patch features; earlier blocks keep
 * plain attention so the features CLIP was trained with stay intact. Each LAA block widens a
 * patch's reach by the radius, so after three blocks a last-layer patch feature depends on at
 * most 3 patches around it beyond what the global blocks mixed in: 48 px at ViT-B/16@224
 * (a 14x14 grid), small against the image, large enough to judge a defect by its surroundings.
 */
export function defaultLaa(blocks: number): LaaSettings {
  return { radius: 1, from: Math.max(1, blocks - 2) };
}

interface ResolvedOptions {
  imageSize: number;
  layers: number[];
  laa: LaaSettings | null;
  precision: WeightPrecision;
}

const isWhole = (v: number, min: number) => Number.isInteger(v) && v >= min;

/** Checks that need no weights, so bad options fail before a large checkpoint is read. */
function checkOptions(o: BuildOptions): Result<void> {
  const problems: string[] = [];
  if (o.imageSize !== undefined && !isWhole(o.imageSize, 1)) problems.push(`image size must be a positive whole number (got ${o.imageSize})`);
  if (o.layers !== undefined) {
    if (o.layers.length === 0) problems.push('layers must name at least one block');
    const bad = o.layers.filter((l) => !isWhole(l, 1));
    if (bad.length) problems.push(`layers are 1-based block numbers; ${bad.join(', ')} is not one`);
    if (new Set(o.layers).size !== o.layers.length) problems.push(`layers ${o.layers.join(',')} name a block twice`);
  }
  if (o.laaRadius !== undefined && !isWhole(o.laaRadius, 0)) problems.push(`LAA radius must be a whole number >= 0 (got ${o.laaRadius})`);
  if (o.laaFrom !== undefined && !isWhole(o.laaFrom, 1)) problems.push(`LAA first block must be a whole number >= 1 (got ${o.laaFrom})`);
  if (o.laa === false && (o.laaRadius !== undefined || o.laaFrom !== undefined)) problems.push('LAA settings were given together with LAA disabled');
  if (o.precision !== undefined && !WEIGHT_PRECISIONS.includes(o.precision))
    problems.push(`precision must be ${WEIGHT_PRECISIONS.join(' or ')} (got ${o.precision})`);
  if (path.resolve(o.out) === path.resolve(o.weights)) problems.push('the output directory is the weights directory');
  return problems.length ? err(problems.join('; ')) : ok(undefined);
}

function resolveOptions(o: BuildOptions, w: ClipWeights): Result<ResolvedOptions> {
  const v = w.vision;
  const blocks = v.blocks.length;
  const problems: string[] = [];
  const imageSize = o.imageSize ?? v.imageSize;
  if (imageSize % v.patchSize !== 0) problems.push(`image size ${imageSize} is not a multiple of the patch size ${v.patchSize}`);
  if (imageSize < MIN_IMAGE_SIZE) problems.push(`image size ${imageSize} is below ${MIN_IMAGE_SIZE} px, the anomaly map's smoothing needs more`);
  const layers = [...(o.layers ?? defaultLayers(blocks))].sort((a, b) => a - b);
  const outside = layers.filter((l) => l > blocks);
  if (outside.length) problems.push(`layer ${outside.join(', ')} is out of range: the vision transformer has blocks 1..${blocks}`);
  let laa: LaaSettings | null = null;
  if (o.laa !== false) {
    const d = defaultLaa(blocks);
    laa = { radius: o.laaRadius ?? d.radius, from: o.laaFrom ?? d.from };
    if (laa.from > blocks) problems.push(`LAA first block ${laa.from} is out of range: the vision transformer has blocks 1..${blocks}`);
  }
  return problems.length ? err(problems.join('; ')) : ok({ imageSize, layers, laa, precision: o.precision ?? 'fp32' });
}

/** An existing target must be a bundle or empty: anything else is somebody's data. */
async function checkTarget(out: string): Promise<Result<'absent' | 'replace'>> {
  let entries: string[];
  try {
    entries = await fs.readdir(out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return ok('absent');
    if (code === 'ENOTDIR') return err(`${out} exists and is not a directory`);
    return err(`cannot read ${out}: ${(e as Error).message}`);
  }
  if (entries.length === 0 || entries.includes(MANIFEST_FILE)) return ok('replace');
  return err(`${out} exists and is not a linewatch bundle (no ${MANIFEST_FILE}); refusing to overwrite it`);
}

async function writeGraph(dir: string, file: string, g: GraphBuilder, doc: string): Promise<void> {
  await fs.writeFile(path.join(dir, file), g.encode(doc));
}

async function writeBundleFiles(dir: string, w: ClipWeights, r: ResolvedOptions, step: (name: string) => void): Promise<Manifest> {
  const v = w.vision;
  const grid = r.imageSize / v.patchSize;

  step('vision graph');
  const visionWeights = new ExternalWeights(BUNDLE_FILES.visionWeights);
  const vision = new GraphBuilder('vision', visionWeights);
  buildVisionGraph(vision, w, { imageSize: r.imageSize, layers: r.layers, laa: r.laa, precision: r.precision });
  await writeGraph(dir, BUNDLE_FILES.vision, vision, 'linewatch vision graph');
  await visionWeights.write(dir);

  step('memory graph');
  const memory = new GraphBuilder('memory');
  buildMemoryGraph(memory, { layers: r.layers.length, grid, embedDim: w.embedDim, imageSize: r.imageSize });
  await writeGraph(dir, BUNDLE_FILES.memory, memory, 'linewatch patch-memory graph');

  step('text graphs');
  const textWeights = new ExternalWeights(BUNDLE_FILES.textWeights);
  const text = new GraphBuilder('text', textWeights);
  buildTextGraph(text, w);
  const vjp = new GraphBuilder('text_vjp', textWeights);
  buildTextVjpGraph(vjp, w);
  await writeGraph(dir, BUNDLE_FILES.text, text, 'linewatch text graph');
  await writeGraph(dir, BUNDLE_FILES.textVjp, vjp, 'linewatch text gradient graph');
  await textWeights.write(dir);

  step('token embedding and tokenizer');
  const t = w.text;
  // CLIP puts the start and end tokens last in its vocabulary
  const [sot, eot] = [t.vocabSize - 2, t.vocabSize - 1];
  const table = encodeSafetensors(
    { token_embedding: { dtype: 'F32', shape: [t.vocabSize, t.width], data: t.tokenEmbedding.data } },
    { sot: String(sot), eot: String(eot) },
  );
  await fs.writeFile(path.join(dir, BUNDLE_FILES.tokenEmbedding), table);
  await fs.copyFile(defaultVocabPath, path.join(dir, BUNDLE_FILES.vocab));
  await fs.copyFile(path.join(path.dirname(defaultVocabPath), VOCAB_LICENSE), path.join(dir, VOCAB_LICENSE));

  step('checksums');
  const checksums: Record<string, string> = {};
  for (const f of (await fs.readdir(dir)).sort()) checksums[f] = await sha256File(path.join(dir, f));

  return {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    source: { layout: w.layout, files: w.sources },
    activation: w.activation,
    embedDim: w.embedDim,
    vision: {
      imageSize: r.imageSize,
      patchSize: v.patchSize,
      grid,
      width: v.width,
      blocks: v.blocks.length,
      heads: v.heads,
      weightsImageSize: v.imageSize,
      layers: r.layers,
      laa: r.laa ? { enabled: true, radius: r.laa.radius, from: r.laa.from } : { enabled: false },
      precision: r.precision,
    },
    anomalyHead: {
      logitScale: LOGIT_SCALE,
      smoothingSigma: SMOOTHING_SIGMA,
    },
    preprocess: { mean: w.mean, std: w.std },
    text: { width: t.width, blocks: t.blocks.length, heads: t.heads, contextLength: t.contextLength, vocabSize: t.vocabSize, sot, eot },
    tokenizer: { file: BUNDLE_FILES.vocab, vocabSize: t.vocabSize },
    files: BUNDLE_FILES,
    checksums,
  };
}

const buildPrefix = (name: string) => `.${name}.building-`;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A build killed midway (no `finally` runs on SIGKILL) leaves its temporary directory: removed by the next build. */
async function removeAbandonedBuilds(parent: string, name: string): Promise<void> {
  const prefix = buildPrefix(name);
  for (const entry of await fs.readdir(parent).catch(() => [] as string[])) {
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    if (entry.startsWith(prefix) && Number.isInteger(pid) && pid !== process.pid && !isRunning(pid)) {
      await fs.rm(path.join(parent, entry), { recursive: true, force: true });
    }
  }
}

/** Moves `tmp` to `out`, replacing an existing bundle there (the old one is removed only after the swap). */
async function swapIntoPlace(tmp: string, out: string, target: 'absent' | 'replace'): Promise<void> {
  if (target === 'absent') {
    await fs.rename(tmp, out);
    return;
  }
  const old = `${tmp}.old`;
  await fs.rename(out, old);
  try {
    await fs.rename(tmp, out);
  } catch (e) {
    await fs.rename(old, out); // put the previous bundle back
    throw e;
  }
  await fs.rm(old, { recursive: true, force: true });
}

export async function buildBundle(o: BuildOptions): Promise<Result<Manifest>> {
  const checked = checkOptions(o);
  if (!checked.ok) return checked;
  const out = path.resolve(o.out);
  const target = await checkTarget(out);
  if (!target.ok) return target;

  const steps = ['reading weights', 'vision graph', 'memory graph', 'text graphs', 'token embedding and tokenizer', 'checksums', 'manifest'];
  let done = 0;
  const step = (name: string) => o.onProgress?.(done++, steps.length, name);

  step('reading weights');
  const weights = await readClipWeights(o.weights);
  if (!weights.ok) return weights;
  const resolved = resolveOptions(o, weights.value);
  if (!resolved.ok) return resolved;

  const parent = path.dirname(out);
  try {
    await fs.mkdir(parent, { recursive: true });
  } catch (e) {
    return err(`cannot create ${parent}: ${(e as Error).message}`);
  }
  await removeAbandonedBuilds(parent, path.basename(out));
  const tmp = path.join(parent, `${buildPrefix(path.basename(out))}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.mkdir(tmp);
    const manifest = await writeBundleFiles(tmp, weights.value, resolved.value, step);
    step('manifest');
    await fs.writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await swapIntoPlace(tmp, out, target.value);
    o.onProgress?.(steps.length, steps.length, 'done');
    return ok(manifest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) return err(`writing the bundle failed: ${(e as Error).message}`);
    throw e;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

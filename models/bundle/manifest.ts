// manifest.json: what a bundle is (how it was built, from what) and how to use it (image size,
// preprocessing, selected layers, LAA), plus the sha256 of every other file in the bundle.
import { err, ok, type Result } from '../../util/result.ts';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../onnx/transformer.ts';

export const MANIFEST_FILE = 'manifest.json';
export const BUNDLE_FORMAT = 'linewatch-bundle';
export const BUNDLE_FORMAT_VERSION = 1;

/** File names inside a bundle. */
export const BUNDLE_FILES = {
  vision: 'vision.onnx',
  visionWeights: 'vision.weights',
  text: 'text.onnx',
  textVjp: 'text_vjp.onnx',
  textWeights: 'text.weights',
  tokenEmbedding: 'token_embedding.safetensors',
  vocab: 'bpe_simple_vocab_16e6.txt.gz',
} as const;

export type LaaManifest = { enabled: true; radius: number; from: number } | { enabled: false };

export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: typeof BUNDLE_FORMAT_VERSION;
  createdAt: string;
  source: { layout: 'openclip' | 'hf'; files: { file: string; sha256: string }[] };
  activation: 'quick_gelu' | 'gelu';
  embedDim: number;
  vision: {
    imageSize: number;
    patchSize: number;
    /** Patches per side: imageSize / patchSize. */
    grid: number;
    width: number;
    blocks: number;
    heads: number;
    /** The image size the weights were trained at; the positional embedding is resized (bicubic) when it differs. */
    weightsImageSize: number;
    /** Blocks (1-based, ascending) stacked in `patch_embeds`. */
    layers: number[];
    laa: LaaManifest;
    /** How the blocks' Linear layers multiply: float32, or int8 weights with dynamically quantized activations. */
    precision: WeightPrecision;
  };
  anomalyHead: {
    logitScale: number;
    smoothingSigma: number;
  };
  preprocess: { mean: [number, number, number]; std: [number, number, number] };
  text: { width: number; blocks: number; heads: number; contextLength: number; vocabSize: number; sot: number; eot: number };
  tokenizer: { file: string; vocabSize: number };
  files: typeof BUNDLE_FILES;
  /** sha256 (hex) of every file of the bundle except manifest.json. */
  checksums: Record<string, string>;
}

/** Collects every problem in one pass so a broken manifest is reported completely. */
class Checker {
  readonly problems: string[] = [];
  constructor(private readonly root: Record<string, unknown>) {}

  private at(path: string): unknown {
    return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), this.root);
  }

  int(path: string, min: number): void {
    const v = this.at(path);
    if (!Number.isInteger(v) || (v as number) < min) this.problems.push(`${path} must be a whole number >= ${min} (found ${JSON.stringify(v)})`);
  }

  num(path: string): void {
    if (typeof this.at(path) !== 'number' || !Number.isFinite(this.at(path))) this.problems.push(`${path} must be a number`);
  }

  str(path: string, allowed?: readonly string[]): void {
    const v = this.at(path);
    if (typeof v !== 'string' || (allowed && !allowed.includes(v))) {
      this.problems.push(`${path} must be ${allowed ? `one of ${allowed.join(', ')}` : 'a string'} (found ${JSON.stringify(v)})`);
    }
  }

  triple(path: string): void {
    const v = this.at(path);
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && x !== 0)) this.problems.push(`${path} must be three non-zero numbers`);
  }

  value(path: string): unknown {
    return this.at(path);
  }
}

function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[\\/]/.test(name);
}

export function parseManifest(json: unknown): Result<Manifest> {
  if (!json || typeof json !== 'object') return err('manifest is not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== BUNDLE_FORMAT) return err(`not a linewatch bundle manifest (format ${JSON.stringify(m.format)})`);
  if (m.formatVersion !== BUNDLE_FORMAT_VERSION) {
    return err(`bundle format version ${JSON.stringify(m.formatVersion)} is not supported (this linewatch reads version ${BUNDLE_FORMAT_VERSION}); rebuild the bundle`);
  }
  const c = new Checker(m);
  c.str('createdAt');
  c.str('source.layout', ['openclip', 'hf']);
  c.str('activation', ['quick_gelu', 'gelu']);
  c.int('embedDim', 1);
  for (const k of ['imageSize', 'patchSize', 'grid', 'width', 'blocks', 'heads', 'weightsImageSize']) c.int(`vision.${k}`, 1);
  c.num('anomalyHead.logitScale');
  c.num('anomalyHead.smoothingSigma');
  c.triple('preprocess.mean');
  c.triple('preprocess.std');
  for (const k of ['width', 'blocks', 'heads', 'contextLength', 'vocabSize']) c.int(`text.${k}`, 1);
  c.int('text.sot', 0);
  c.int('text.eot', 0);
  c.str('tokenizer.file');
  c.int('tokenizer.vocabSize', 1);
  for (const k of Object.keys(BUNDLE_FILES)) {
    c.str(`files.${k}`);
    const name = c.value(`files.${k}`);
    if (typeof name === 'string' && !isPlainFileName(name)) c.problems.push(`files.${k} '${name}' is not a plain file name`);
  }

  const v = (m.vision ?? {}) as Partial<Manifest['vision']>;
  const blocks = v.blocks ?? 0;
  if (v.imageSize !== v.grid! * v.patchSize!) c.problems.push(`vision.imageSize ${v.imageSize} is not grid ${v.grid} x patchSize ${v.patchSize}`);
  const layers = v.layers;
  if (!Array.isArray(layers) || layers.length === 0 || !layers.every((l, i) => Number.isInteger(l) && l >= 1 && l <= blocks && (i === 0 || l > layers[i - 1]))) {
    c.problems.push(`vision.layers must be ascending block numbers in 1..${blocks} (found ${JSON.stringify(layers)})`);
  }
  const laa = v.laa as Record<string, unknown> | undefined;
  if (!laa || typeof laa.enabled !== 'boolean') c.problems.push('vision.laa.enabled must be true or false');
  else if (laa.enabled) {
    c.int('vision.laa.radius', 0);
    c.int('vision.laa.from', 1);
    if (typeof laa.from === 'number' && laa.from > blocks) c.problems.push(`vision.laa.from ${laa.from} is beyond the last block ${blocks}`);
  }
  // bundles written before int8 existed carry no precision: they are float32
  if (v.precision === undefined) v.precision = 'fp32';
  else c.str('vision.precision', WEIGHT_PRECISIONS);
  const sources = c.value('source.files');
  if (!Array.isArray(sources) || !sources.every((s) => s && typeof s.file === 'string' && /^[0-9a-f]{64}$/.test(s.sha256))) {
    c.problems.push('source.files must list {file, sha256}');
  }
  const sums = c.value('checksums');
  if (!sums || typeof sums !== 'object' || !Object.values(sums).every((s) => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s))) {
    c.problems.push('checksums must map file names to sha256 hex digests');
  } else {
    const files = Object.values((m.files ?? {}) as Record<string, string>);
    for (const f of files) if (typeof f === 'string' && !(f in sums)) c.problems.push(`checksums lack ${f}`);
    // names are joined to the bundle directory: nothing may point outside it
    for (const f of Object.keys(sums)) if (!isPlainFileName(f)) c.problems.push(`checksums name '${f}', which is not a plain file name`);
  }
  if (c.problems.length) return err(`invalid manifest:\n  - ${c.problems.join('\n  - ')}`);
  return ok(m as unknown as Manifest);
}

// manifest.json: what a bundle is (how it was built, from what) and how to use it (image size,
// preprocessing, selected layers, LAA), plus the sha256 of every other file in the bundle.
// Its shape is one JSON Schema (the `Manifest` type is derived from it); what a schema cannot say
// (layers within the block count, checksums covering every file) is checked by the rules below.
import Type, { type Static } from 'typebox';
import { err, ok, type Result } from '../../util/result.ts';
import { compileSchema, explainProblems } from '../../util/schema.ts';
import { WEIGHT_PRECISIONS } from '../onnx/transformer.ts';

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
  /** The patch-memory scorer; bundles built before it existed lack it (rebuild to get it). */
  memory: 'memory.onnx',
} as const;
/** Files a bundle written before the memory scorer existed does not have. */
const LATER_FILES = ['memory'] as const;
type LaterFile = (typeof LATER_FILES)[number];
const isLaterFile = (k: string): k is LaterFile => (LATER_FILES as readonly string[]).includes(k);

const whole = (minimum: number) => Type.Integer({ minimum });
const sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const closed = Type.Object;
const strict = { additionalProperties: false } as const;

export const LaaManifest = Type.Union([
  closed({ enabled: Type.Literal(true), radius: whole(0), from: whole(1) }, strict),
  closed({ enabled: Type.Literal(false) }, strict),
]);
export type LaaManifest = Static<typeof LaaManifest>;

const channelTriple = (value: ReturnType<typeof Type.Number>) => Type.Tuple([value, value, value]);

export const Manifest = closed(
  {
    format: Type.Literal(BUNDLE_FORMAT),
    formatVersion: Type.Literal(BUNDLE_FORMAT_VERSION),
    createdAt: Type.String(),
    source: closed({ layout: Type.Enum(['openclip', 'hf']), files: Type.Array(closed({ file: Type.String(), sha256 }, strict)) }, strict),
    activation: Type.Enum(['quick_gelu', 'gelu']),
    embedDim: whole(1),
    vision: closed(
      {
        imageSize: whole(1),
        patchSize: whole(1),
        /** Patches per side: imageSize / patchSize. */
        grid: whole(1),
        width: whole(1),
        blocks: whole(1),
        heads: whole(1),
        /** The image size the weights were trained at; the positional embedding is resized (bicubic) when it differs. */
        weightsImageSize: whole(1),
        /** Blocks (1-based, ascending) stacked in `patch_embeds`. */
        layers: Type.Array(whole(1), { minItems: 1 }),
        laa: LaaManifest,
        /** How the blocks' Linear layers multiply: float32, or int8 weights with dynamically quantized activations. */
        precision: Type.Enum(WEIGHT_PRECISIONS),
      },
      strict,
    ),
    anomalyHead: closed({ logitScale: Type.Number(), smoothingSigma: Type.Number() }, strict),
    preprocess: closed({ mean: channelTriple(Type.Number()), std: channelTriple(Type.Number({ exclusiveMinimum: 0 })) }, strict),
    text: closed({ width: whole(1), blocks: whole(1), heads: whole(1), contextLength: whole(1), vocabSize: whole(1), sot: whole(0), eot: whole(0) }, strict),
    tokenizer: closed({ file: Type.String(), vocabSize: whole(1) }, strict),
    files: closed(
      Object.fromEntries(Object.keys(BUNDLE_FILES).map((k) => [k, isLaterFile(k) ? Type.Optional(Type.String()) : Type.String()])) as {
        [K in Exclude<keyof typeof BUNDLE_FILES, LaterFile>]: ReturnType<typeof Type.String>;
      } & { [K in LaterFile]: ReturnType<typeof Type.Optional<ReturnType<typeof Type.String>>> },
      strict,
    ),
    /** sha256 (hex) of every file of the bundle except manifest.json. */
    checksums: Type.Record(Type.String(), sha256),
  },
  strict,
);
export type Manifest = Static<typeof Manifest>;

const manifestSchema = compileSchema(Manifest);

function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[\\/]/.test(name);
}

type Loose = Record<string, any>;

/** What the schema cannot say; each rule reads defensively, as the shape may be broken too. */
function ruleProblems(m: Loose): string[] {
  const problems: string[] = [];
  const v: Loose = m.vision ?? {};
  const blocks = Number.isInteger(v.blocks) ? v.blocks : 0;
  if (v.imageSize !== v.grid * v.patchSize) problems.push(`vision.imageSize ${v.imageSize} is not grid ${v.grid} x patchSize ${v.patchSize}`);
  const layers = v.layers;
  if (!Array.isArray(layers) || !layers.every((l, i) => Number.isInteger(l) && l >= 1 && l <= blocks && (i === 0 || l > layers[i - 1]))) {
    problems.push(`vision.layers must be ascending block numbers in 1..${blocks} (found ${JSON.stringify(layers)})`);
  }
  if (v.laa?.enabled === true && typeof v.laa.from === 'number' && v.laa.from > blocks)
    problems.push(`vision.laa.from ${v.laa.from} is beyond the last block ${blocks}`);
  for (const [k, name] of Object.entries((m.files ?? {}) as Loose)) {
    if (typeof name === 'string' && !isPlainFileName(name)) problems.push(`files.${k} '${name}' is not a plain file name`);
  }
  const sums = m.checksums;
  if (sums && typeof sums === 'object') {
    for (const f of Object.values((m.files ?? {}) as Loose)) if (typeof f === 'string' && !Object.hasOwn(sums, f)) problems.push(`checksums lack ${f}`);
    // names are joined to the bundle directory: nothing may point outside it
    for (const f of Object.keys(sums)) if (!isPlainFileName(f)) problems.push(`checksums name '${f}', which is not a plain file name`);
  }
  return problems;
}

export function parseManifest(json: unknown): Result<Manifest> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return err('manifest is not a JSON object');
  const m = json as Loose;
  if (m.format !== BUNDLE_FORMAT) return err(`not a linewatch bundle manifest (format ${JSON.stringify(m.format)})`);
  if (m.formatVersion !== BUNDLE_FORMAT_VERSION) {
    return err(
      `bundle format version ${JSON.stringify(m.formatVersion)} is not supported (this linewatch reads version ${BUNDLE_FORMAT_VERSION}); rebuild the bundle`,
    );
  }
  // bundles written before int8 existed carry no precision: they are float32
  const withDefaults: Loose =
    m.vision && typeof m.vision === 'object' && m.vision.precision === undefined ? { ...m, vision: { ...m.vision, precision: 'fp32' } } : m;
  const shape = manifestSchema.check(withDefaults);
  const problems = [...(shape.ok ? [] : explainProblems(shape.error, withDefaults)), ...ruleProblems(withDefaults)];
  if (problems.length || !shape.ok) return err(`invalid manifest:\n  - ${problems.join('\n  - ')}`);
  return ok(shape.value);
}

// `linewatch model check`: runs a bundle's graphs on the inputs stored in a reference
// safetensors file (see shared/fixtures/README.md for its tensor names) and compares every
// output that applies to the bundle's settings with the stored one.
import ort from 'onnxruntime-node';
import { err, ok, type Result } from '../../util/result.ts';
import type { WeightPrecision } from '../onnx/transformer.ts';
import { createSession } from '../session.ts';
import { readSafetensors, type SafetensorsFile, tensorF32, tensorI64 } from '../weights/safetensors.ts';
import { type Bundle, loadBundle, readTokenEmbedding, type TokenEmbedding } from './load.ts';
import type { LaaManifest } from './manifest.ts';
import { tensorDifference } from './tensor-difference.ts';

export interface Tolerance {
  /** abs: max |a - b|; rel: max |a - b| / max |b|; cosine: the lowest cosine similarity of a row (a vector of the last axis). */
  kind: 'abs' | 'rel' | 'cosine';
  /** The bound: at most for abs and rel, at least for cosine. */
  value: number;
}

/** What float32 reaches against the canonical implementation (fixtures README), with headroom. */
const FLOAT32_EMBEDDINGS: Tolerance = { kind: 'abs', value: 1e-4 };
const FLOAT32_GRADIENTS: Tolerance = { kind: 'rel', value: 1e-4 };
/**
 * Vision outputs of an int8 bundle, judged by direction: the anomaly head compares normalised
 * embeddings, so a row's cosine with the reference says what matters, while one element's error
 * says little (it grows with depth: 2.9e-2 of the range at ViT-B/16 with random weights, where the
 * lowest row cosine is still 0.9995; the tiny fixture's lowest is 0.9999). Below 0.99 an int8
 * bundle has drifted too far from its float32 model to trust its maps.
 */
const INT8_VISION: Tolerance = { kind: 'cosine', value: 0.99 };

export interface TensorCheck {
  /** The reference tensor's name. */
  name: string;
  maxAbs: number;
  /** max |a - b| / max |b|. */
  maxRel: number;
  /** The lowest cosine similarity between a row of the output and the reference's. */
  minCosine: number;
  tolerance: Tolerance;
  pass: boolean;
}

export interface CheckReport {
  bundle: string;
  reference: string;
  laa: LaaManifest;
  precision: WeightPrecision;
  tensors: TensorCheck[];
  pass: boolean;
}

function compare(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, rowLength: number): TensorCheck {
  const { maxAbs, maxRel, minCosine } = tensorDifference(actual, expected, rowLength);
  const pass = tolerance.kind === 'cosine' ? minCosine >= tolerance.value : (tolerance.kind === 'abs' ? maxAbs : maxRel) <= tolerance.value;
  return { name, maxAbs, maxRel, minCosine, tolerance, pass };
}

const lastDim = (t: ort.Tensor) => t.dims[t.dims.length - 1];

/** Reference tensor names this bundle is checked against. */
function requiredTensors(bundle: Bundle): { vision: Record<string, string>; patch: string[] } {
  const m = bundle.manifest.vision;
  const p = m.laa.enabled ? 'laa.' : '';
  return {
    vision: { image_embeds: `${p}image_embeds`, cls_attention: `${p}cls_attention` },
    patch: m.layers.map((l) => `${p}patch_embeds.L${l}`),
  };
}

const TEXT_TENSORS = ['input_ids', 'text_embeds', 'prompt_embeds', 'eot_index', 'prompt_text_embeds', 'upstream_grad', 'prompt_grad'];

function checkApplicable(bundle: Bundle, ref: SafetensorsFile): Result<void> {
  const m = bundle.manifest.vision;
  const meta = ref.metadata;
  if (m.laa.enabled) {
    const radius = Number(meta.laa_radius);
    const from = Number(meta.laa_first_layer);
    if (meta.laa_radius === undefined || meta.laa_first_layer === undefined) {
      return err(
        `${ref.path} does not state its LAA settings (metadata laa_radius, laa_first_layer); the bundle uses LAA radius ${m.laa.radius} from block ${m.laa.from}`,
      );
    }
    if (radius !== m.laa.radius || from !== m.laa.from) {
      return err(
        `LAA settings differ: the reference has radius ${radius} from block ${from}, the bundle radius ${m.laa.radius} from block ${m.laa.from}; ` +
          `build the bundle with --laa-radius ${radius} --laa-from ${from} (or --no-laa) to check it against this reference`,
      );
    }
  }
  const need = requiredTensors(bundle);
  const missing = ['pixel_values', ...Object.values(need.vision), ...need.patch, ...TEXT_TENSORS].filter((n) => !ref.tensors.has(n));
  if (missing.length) return err(`${ref.path} lacks tensor${missing.length > 1 ? 's' : ''} the bundle needs: ${missing.join(', ')}`);
  const px = ref.tensors.get('pixel_values')!.shape;
  if (px.length !== 4 || px[1] !== 3 || px[2] !== m.imageSize || px[3] !== m.imageSize) {
    return err(`reference pixel_values are [${px.join(', ')}], the bundle takes [B, 3, ${m.imageSize}, ${m.imageSize}]`);
  }
  const ids = ref.tensors.get('input_ids')!;
  const prompts = ref.tensors.get('prompt_embeds')!.shape;
  if (ids.dtype !== 'I64' || ids.shape.length !== 2 || ref.tensors.get('eot_index')!.dtype !== 'I64')
    return err('reference input_ids and eot_index must be int64');
  if (prompts.length !== 3 || prompts[2] !== bundle.manifest.text.width)
    return err(`reference prompt_embeds are [${prompts.join(', ')}], the bundle's text width is ${bundle.manifest.text.width}`);
  return ok(undefined);
}

async function checkVision(session: ort.InferenceSession, bundle: Bundle, ref: SafetensorsFile): Promise<TensorCheck[]> {
  const px = ref.tensors.get('pixel_values')!.shape;
  // the anomaly head has no reference; any text embeddings do
  const text = new ort.Tensor('float32', new Float32Array(2 * bundle.manifest.embedDim), [2, bundle.manifest.embedDim]);
  const out = await session.run({ pixel_values: new ort.Tensor('float32', tensorF32(ref, 'pixel_values'), px), text_embeds: text });
  const need = requiredTensors(bundle);
  const tolerance = bundle.manifest.vision.precision === 'int8' ? INT8_VISION : FLOAT32_EMBEDDINGS;
  const checks = Object.entries(need.vision).map(([output, name]) =>
    compare(name, out[output].data as Float32Array, tensorF32(ref, name), tolerance, lastDim(out[output])),
  );
  // patch_embeds [B,K,N,E] against one [B,N,E] reference per layer
  const [b, k, n, e] = out.patch_embeds.dims;
  const all = out.patch_embeds.data as Float32Array;
  need.patch.forEach((name, layer) => {
    const mine = new Float32Array(b * n * e);
    for (let i = 0; i < b; i++) mine.set(all.subarray((i * k + layer) * n * e, (i * k + layer + 1) * n * e), i * n * e);
    checks.push(compare(name, mine, tensorF32(ref, name), tolerance, e));
  });
  return checks;
}

/** Token ids -> the text graph's inputs: embedding rows and the end-of-text position (the highest id). */
function embedTokens(ids: BigInt64Array, rows: number, table: TokenEmbedding): Result<{ embeds: Float32Array; eot: BigInt64Array }> {
  const len = ids.length / rows;
  const embeds = new Float32Array(ids.length * table.width);
  const eot = new BigInt64Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let s = 0; s < len; s++) {
      const id = Number(ids[r * len + s]);
      if (!(id >= 0 && id < table.vocabSize)) return err(`reference input_ids row ${r} holds id ${id}, outside the vocabulary 0..${table.vocabSize - 1}`);
      embeds.set(table.data.subarray(id * table.width, (id + 1) * table.width), (r * len + s) * table.width);
      if (id > Number(ids[r * len + best])) best = s;
    }
    eot[r] = BigInt(best);
  }
  return ok({ embeds, eot });
}

async function checkText(text: ort.InferenceSession, vjp: ort.InferenceSession, bundle: Bundle, ref: SafetensorsFile): Promise<Result<TensorCheck[]>> {
  const table = await readTokenEmbedding(bundle);
  if (!table.ok) return table;
  const idsShape = ref.tensors.get('input_ids')!.shape;
  const tokens = embedTokens(tensorI64(ref, 'input_ids'), idsShape[0], table.value);
  if (!tokens.ok) return tokens;
  const width = table.value.width;
  const fromIds = await text.run({
    prompt_embeds: new ort.Tensor('float32', tokens.value.embeds, [idsShape[0], idsShape[1], width]),
    eot_index: new ort.Tensor('int64', tokens.value.eot, [idsShape[0]]),
  });
  const promptShape = ref.tensors.get('prompt_embeds')!.shape;
  const prompts = {
    prompt_embeds: new ort.Tensor('float32', tensorF32(ref, 'prompt_embeds'), promptShape),
    eot_index: new ort.Tensor('int64', tensorI64(ref, 'eot_index'), [promptShape[0]]),
  };
  const fromPrompts = await text.run(prompts);
  const upstream = ref.tensors.get('upstream_grad')!.shape;
  const grad = await vjp.run({ ...prompts, upstream_grad: new ort.Tensor('float32', tensorF32(ref, 'upstream_grad'), upstream) });
  return ok([
    compare('text_embeds', fromIds.text_embeds.data as Float32Array, tensorF32(ref, 'text_embeds'), FLOAT32_EMBEDDINGS, lastDim(fromIds.text_embeds)),
    compare(
      'prompt_text_embeds',
      fromPrompts.text_embeds.data as Float32Array,
      tensorF32(ref, 'prompt_text_embeds'),
      FLOAT32_EMBEDDINGS,
      lastDim(fromPrompts.text_embeds),
    ),
    compare('prompt_grad', grad.prompt_grad.data as Float32Array, tensorF32(ref, 'prompt_grad'), FLOAT32_GRADIENTS, lastDim(grad.prompt_grad)),
  ]);
}

export async function checkBundle(bundleDir: string, referenceFile: string): Promise<Result<CheckReport>> {
  const bundle = await loadBundle(bundleDir);
  if (!bundle.ok) return bundle;
  const ref = await readSafetensors(referenceFile);
  if (!ref.ok) return ref;
  const applicable = checkApplicable(bundle.value, ref.value);
  if (!applicable.ok) return applicable;

  const opened: ort.InferenceSession[] = [];
  const open = async (file: string) => {
    const { session } = await createSession(file, { providers: ['cpu'] });
    opened.push(session);
    return session;
  };
  try {
    const b = bundle.value;
    const vision = await checkVision(await open(b.paths.vision), b, ref.value);
    const text = await checkText(await open(b.paths.text), await open(b.paths.textVjp), b, ref.value);
    if (!text.ok) return text;
    const tensors = [...vision, ...text.value];
    return ok({
      bundle: b.dir,
      reference: referenceFile,
      laa: b.manifest.vision.laa,
      precision: b.manifest.vision.precision,
      tensors,
      pass: tensors.every((t) => t.pass),
    });
  } finally {
    await Promise.all(opened.map((s) => s.release()));
  }
}

function formatTolerance(t: Tolerance): string {
  return t.kind === 'cosine' ? `cosine >= ${t.value}` : `${t.kind} <= ${t.value.toExponential(0)}`;
}

export function formatReport(r: CheckReport): string {
  const laa = r.laa.enabled ? `LAA radius ${r.laa.radius} from block ${r.laa.from}` : 'no LAA';
  const width = Math.max(...r.tensors.map((t) => t.name.length), 6);
  const lines = [
    `bundle ${r.bundle} (${laa}, ${r.precision}) against ${r.reference}`,
    `${'tensor'.padEnd(width)}  ${'max abs err'.padStart(11)}  ${'max rel err'.padStart(11)}  ${'min cosine'.padStart(10)}  tolerance`,
    ...r.tensors.map(
      (t) =>
        `${t.name.padEnd(width)}  ${t.maxAbs.toExponential(2).padStart(11)}  ${t.maxRel.toExponential(2).padStart(11)}  ${t.minCosine.toFixed(6).padStart(10)}  ` +
        `${formatTolerance(t.tolerance)}  ${t.pass ? 'ok' : 'FAIL'}`,
    ),
    r.pass ? 'all outputs within tolerance' : `${r.tensors.filter((t) => !t.pass).length} output(s) outside tolerance`,
  ];
  return `${lines.join('\n')}\n`;
}

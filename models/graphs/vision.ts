// vision.onnx: normalised images -> image and selected-layer patch embeddings, class-token
// attention, and the anomaly head (anomaly map + score) against two text embeddings.
//   pixel_values [B,3,H,W], text_embeds [2,E] (row 0 normal, row 1 anomalous)
//   -> image_embeds [B,E], patch_embeds [B,K,N,E], cls_attention [B,N], anomaly_map [B,H,W], anomaly_score [B]
// Shapes are static except the batch, so TensorRT can build one engine per batch profile.
// text_embeds is a required input: an ONNX input with an initializer as default value cannot be
// fed through onnxruntime-node (its binding only passes inputs without initializers), so a
// default would silently win over the caller's prompts. Bundles carry defaults as a file instead.

import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { layerNorm, residualBlock, type WeightPrecision } from '../onnx/transformer.ts';
import type { ClipWeights } from '../weights/clip-weights.ts';
import { MEMORY_INPUTS, MEMORY_OUTPUTS, memoryHead } from './memory.ts';
import { resizePositionalEmbedding } from './positional-resize.ts';

export interface LaaSettings {
  /** Chebyshev radius on the patch grid within which a patch attends to another. */
  radius: number;
  /** First block (1-based) with locality-aware attention; later blocks have it too. */
  from: number;
}

export interface VisionGraphOptions {
  imageSize: number;
  /** Blocks (1-based, ascending) whose patch tokens become `patch_embeds`. */
  layers: number[];
  laa: LaaSettings | null;
  /** The blocks' Linear layers; the patch embedding, projections and the head stay float32. */
  precision: WeightPrecision;
  /**
   * Also run the memory scorer inside this graph (input `memory_bank`, outputs `memory_map`,
   * `memory_score`). Bundles keep it in memory.onnx so that vision.onnx is unchanged; the
   * in-graph variant exists to measure both placements (bench/memory.ts).
   */
  memoryHead?: boolean;
}

/** CLIP's logit scale, fixed: the anomaly probability is softmax(100 * cos) over (normal, anomalous). */
export const LOGIT_SCALE = 100;
/** Gaussian smoothing of the upsampled map, in pixels; the kernel reaches 3 sigma. */
export const SMOOTHING_SIGMA = 4;
/** Reflect padding by the kernel radius needs a map at least one pixel larger than it. */
export const MIN_IMAGE_SIZE = Math.ceil(3 * SMOOTHING_SIGMA) + 1;
/**
 * Masked logits. Finite rather than -inf so that reduced-precision engines (fp16 TensorRT) never
 * see inf - inf; exp(-1e4 + any real logit) is exactly 0 in float32 and float16 alike.
 */
const MASKED = -1e4;
/**
 * The blocks' MLP as this many hidden-dimension blocks (transformer.ts mlpChunks): faster on the
 * CPU provider, where c_proj's 4W-long contraction is the graph's slowest MatMul per FLOP.
 */
const MLP_CHUNKS = 2;

/**
 * Additive LAA mask [T, T] over (class, patches in row-major order): the class token attends to
 * everything; patch i attends to patch j iff their Chebyshev distance is <= radius, never to the
 * class token. Every row keeps at least its own token, so no softmax row is fully masked.
 */
function laaMask(grid: number, radius: number): Float32Array {
  const t = 1 + grid * grid;
  const m = new Float32Array(t * t);
  for (let i = 1; i < t; i++) {
    const [ri, ci] = [Math.floor((i - 1) / grid), (i - 1) % grid];
    m[i * t] = MASKED;
    for (let j = 1; j < t; j++) {
      const [rj, cj] = [Math.floor((j - 1) / grid), (j - 1) % grid];
      if (Math.max(Math.abs(ri - rj), Math.abs(ci - cj)) > radius) m[i * t + j] = MASKED;
    }
  }
  return m;
}

/** Normalised 1-D Gaussian taps over [-3 sigma, 3 sigma]. */
function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.ceil(3 * sigma);
  const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const sum = taps.reduce((a, b) => a + b, 0);
  return Float32Array.from(taps, (v) => v / sum);
}

/** x / max(|x|, 1e-12) over the last axis (F.normalize): a zero vector stays zero instead of NaN. */
export function l2Normalise(g: GraphBuilder, x: string): string {
  const norm = g.node('Max', [g.node('ReduceL2', [x], { axes: [-1], keepdims: 1 }), g.constF([1e-12], [])]);
  return g.node('Div', [x, norm]);
}

/** Patch embedding + class token + positional embedding: [B,3,H,W] -> [B,T,W]. */
function embed(g: GraphBuilder, w: ClipWeights, pixels: string, grid: number): string {
  const v = w.vision;
  const width = v.width;
  const weightsGrid = Math.round(Math.sqrt(v.positionalEmbedding.rows - 1));
  const pos = resizePositionalEmbedding(v.positionalEmbedding, weightsGrid, grid);
  const conv = g.node('Conv', [pixels, g.weight('patch_embed', v.patchEmbedding, [width, 3, v.patchSize, v.patchSize])], {
    kernel_shape: [v.patchSize, v.patchSize],
    strides: [v.patchSize, v.patchSize],
  });
  const tokens = g.node('Transpose', [g.node('Reshape', [conv, g.constI([0, width, grid * grid])])], { perm: [0, 2, 1] });
  const patches = g.node('Add', [tokens, g.weight('pos_patches', pos.data.slice(width), [grid * grid, width])]);
  // the class token's position is folded in at build time: class + pos[0]
  const cls = Float32Array.from(v.classEmbedding, (c, i) => c + pos.data[i]);
  const batchShape = g.node('Shape', [pixels], { start: 0, end: 1 });
  const clsShape = g.node('Concat', [batchShape, g.constI([1, width])], { axis: 0 });
  const clsTokens = g.node('Expand', [g.weight('cls_pos', cls, [1, 1, width]), clsShape]);
  return g.node('Concat', [clsTokens, patches], { axis: 1 });
}

/** ln_post(x) @ proj for token rows `from..to` of x [B,T,W] -> [B,to-from,E]. */
function project(g: GraphBuilder, w: ClipWeights, x: string, from: number, to: number, proj: string, hint: string): string {
  const rows = g.node('Slice', [x, g.constI([from]), g.constI([to]), g.constI([1])]);
  return g.node('MatMul', [layerNorm(g, rows, w.vision.lnPost, w.layerNormEps, hint), proj]);
}

/**
 * Per-layer patch scores [B,K,N,1] -> the map every scorer publishes: mean over the K layers,
 * reshaped to the patch grid, bilinear upsampling to imageSize, Gaussian smoothing; the image
 * score is the map's maximum. One definition, so the prompt and the memory maps are comparable.
 */
export function patchScoreMap(g: GraphBuilder, perLayer: string, grid: number, imageSize: number): { map: string; score: string } {
  const mean = g.node('ReduceMean', [perLayer], { axes: [1], keepdims: 0 }); // [B,N,1]
  const gridMap = g.node('Reshape', [mean, g.constI([-1, 1, grid, grid])]);
  const scale = imageSize / grid;
  const up = g.node('Resize', [gridMap, '', g.constF([1, 1, scale, scale])], {
    mode: 'linear',
    coordinate_transformation_mode: 'half_pixel',
  });
  const kernel = gaussianKernel(SMOOTHING_SIGMA);
  const r = (kernel.length - 1) / 2;
  const padded = g.node('Pad', [up, g.constI([0, 0, r, r, 0, 0, r, r])], { mode: 'reflect' });
  const rowsBlurred = g.node('Conv', [padded, g.constant({ type: 'float32', dims: [1, 1, 1, kernel.length], data: kernel })]);
  const blurred = g.node('Conv', [rowsBlurred, g.constant({ type: 'float32', dims: [1, 1, kernel.length, 1], data: kernel })]);
  const map = g.node('Reshape', [blurred, g.constI([-1, imageSize, imageSize])]);
  return { map, score: g.node('ReduceMax', [map], { axes: [1, 2], keepdims: 0 }) };
}

/**
 * Anomaly head. For two classes softmax(s * [p.t0, p.t1])[1] = sigmoid(p . s(t1 - t0)), so the
 * per-patch probability is one MatMul with a single direction vector plus a Sigmoid.
 */
function anomalyHead(g: GraphBuilder, patchEmbeds: string, textEmbeds: string, grid: number, imageSize: number): { map: string; score: string } {
  const t = l2Normalise(g, textEmbeds);
  const pick = (row: number) => g.node('Slice', [t, g.constI([row]), g.constI([row + 1]), g.constI([0])]); // [1,E]
  const direction = g.node('Transpose', [g.node('Mul', [g.node('Sub', [pick(1), pick(0)]), g.constF([LOGIT_SCALE], [])])]); // [E,1]
  const prob = g.node('Sigmoid', [g.node('MatMul', [l2Normalise(g, patchEmbeds), direction])]); // [B,K,N,1]
  return patchScoreMap(g, prob, grid, imageSize);
}

export function buildVisionGraph(g: GraphBuilder, w: ClipWeights, o: VisionGraphOptions): void {
  const v = w.vision;
  const grid = o.imageSize / v.patchSize;
  const tokens = 1 + grid * grid;
  const pixels = g.input('pixel_values', 'float32', ['B', 3, o.imageSize, o.imageSize]);
  const textEmbeds = g.input('text_embeds', 'float32', [2, w.embedDim]);

  let x = layerNorm(g, embed(g, w, pixels, grid), v.lnPre, w.layerNormEps, 'ln_pre');
  const mask = o.laa ? g.weight('laa_mask', laaMask(grid, o.laa.radius), [tokens, tokens]) : null;
  const proj = g.weight('visual_proj', v.projection.data, [v.width, w.embedDim]);
  const selected: string[] = [];
  let lastProbs = '';
  v.blocks.forEach((b, i) => {
    const inLaa = o.laa !== null && i + 1 >= o.laa.from;
    const opts = {
      heads: v.heads,
      mask: inLaa ? mask : null,
      tokens,
      width: v.width,
      act: w.activation,
      eps: w.layerNormEps,
      precision: o.precision,
      mlpChunks: MLP_CHUNKS,
    };
    const block = residualBlock(g, x, b, opts, `vis${i}`);
    x = block.out;
    lastProbs = block.probs;
    if (o.layers.includes(i + 1)) selected.push(project(g, w, x, 1, tokens, proj, `ln_post_L${i + 1}`));
  });

  const imageEmbeds = g.node('Squeeze', [project(g, w, x, 0, 1, proj, 'ln_post_cls'), g.constI([1])]);
  const patchEmbeds = g.node(
    'Concat',
    selected.map((p) => g.node('Unsqueeze', [p, g.constI([1])])),
    { axis: 1 },
  );
  // class-token row, patch columns, mean over heads: [B,h,T,T] -> [B,N]
  const clsRow = g.node('Slice', [lastProbs, g.constI([0, 1]), g.constI([1, tokens]), g.constI([2, 3])]);
  const clsAttention = g.node('Reshape', [g.node('ReduceMean', [clsRow], { axes: [1], keepdims: 0 }), g.constI([-1, grid * grid])]);
  const head = anomalyHead(g, patchEmbeds, textEmbeds, grid, o.imageSize);

  const k = o.layers.length;
  g.output(imageEmbeds, 'image_embeds', 'float32', ['B', w.embedDim]);
  g.output(patchEmbeds, 'patch_embeds', 'float32', ['B', k, grid * grid, w.embedDim]);
  g.output(clsAttention, 'cls_attention', 'float32', ['B', grid * grid]);
  g.output(head.map, 'anomaly_map', 'float32', ['B', o.imageSize, o.imageSize]);
  g.output(head.score, 'anomaly_score', 'float32', ['B']);
  if (o.memoryHead) {
    const bank = g.input(MEMORY_INPUTS.bank, 'float32', [k, 'M', w.embedDim]);
    const memory = memoryHead(g, patchEmbeds, bank, grid, o.imageSize);
    g.output(memory.map, MEMORY_OUTPUTS.map, 'float32', ['B', o.imageSize, o.imageSize]);
    g.output(memory.score, MEMORY_OUTPUTS.score, 'float32', ['B']);
  }
}

// The CLIP transformer pieces as ONNX subgraphs, shared by the vision and text graphs.
// Activations are [B, T, W]; weights come from `ClipWeights` (PyTorch [out, in] layout).
import type { Activation, BlockWeights, LayerNormWeights, Matrix } from '../weights/clip-weights.ts';
import type { GraphBuilder } from './graph-builder.ts';

// Cached so that graphs sharing one ExternalWeights file (text.onnx, text_vjp.onnx) store each
// transposed matrix once: ExternalWeights deduplicates by array identity.
const transposed = new WeakMap<Matrix, Float32Array>();

export function transpose(m: Matrix): Float32Array {
  const known = transposed.get(m);
  if (known) return known;
  const t = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) t[c * m.rows + r] = m.data[r * m.cols + c];
  transposed.set(m, t);
  return t;
}

export function layerNorm(g: GraphBuilder, x: string, w: LayerNormWeights, eps: number, hint: string): string {
  const n = w.weight.length;
  return g.node('LayerNormalization', [x, g.weight(`${hint}_g`, w.weight, [n]), g.weight(`${hint}_b`, w.bias, [n])], {
    axis: -1,
    epsilon: { float: eps },
  });
}

/**
 * How the Linear layers of a transformer store and multiply their weights. `int8`: weights
 * quantized symmetrically per output channel, activations quantized per tensor at run time
 * (DynamicQuantizeLinear + MatMulInteger, which onnxruntime fuses into one int8 GEMM: VNNI on x86,
 * dot-product instructions on Arm). Attention products, LayerNorm and everything else stay float32.
 */
export type WeightPrecision = 'fp32' | 'int8';

export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['fp32', 'int8'];

/** A PyTorch Linear weight [out, in] as int8 [in, out] plus one scale per output channel (max |w| -> 127). */
export function quantizePerOutputChannel(m: Matrix): { values: Int8Array; scales: Float32Array } {
  const values = new Int8Array(m.rows * m.cols);
  const scales = new Float32Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let peak = 0;
    for (let c = 0; c < m.cols; c++) peak = Math.max(peak, Math.abs(m.data[r * m.cols + c]));
    // an all-zero channel keeps scale 1 so that dequantizing never divides by zero
    const scale = peak > 0 ? peak / 127 : 1;
    scales[r] = scale;
    for (let c = 0; c < m.cols; c++) values[c * m.rows + r] = Math.round(m.data[r * m.cols + c] / scale);
  }
  return { values, scales };
}

function int8MatMul(g: GraphBuilder, x: string, weight: Matrix, hint: string): string {
  const { values, scales } = quantizePerOutputChannel(weight);
  const [xq, xScale, xZero] = g.nodeN('DynamicQuantizeLinear', [x], 3);
  const w = g.weight(`${hint}_wq`, values, [weight.cols, weight.rows]);
  const product = g.node('MatMulInteger', [xq, w, xZero, g.constant({ type: 'int8', dims: [], data: new Int8Array(1) })]);
  const scale = g.node('Mul', [xScale, g.weight(`${hint}_wscale`, scales, [weight.rows])]);
  return g.node('Mul', [g.node('Cast', [product], { to: 1 /* FLOAT */ }), scale]);
}

/**
 * x @ W^T + b for a PyTorch Linear weight [out, in]. `tokens`: x is [B, tokens, in] with a static
 * token count, so a float32 product with a bias can run as one 2-D Gemm between two Reshapes
 * (which onnxruntime does without a copy). WHY: its MatMulAddFusion forms Gemm only from 2-D or
 * fully static shapes, and with a symbolic batch the bias would cost a separate pass.
 */
export function linear(
  g: GraphBuilder,
  x: string,
  weight: Matrix,
  bias: Float32Array | null,
  precision: WeightPrecision,
  hint: string,
  tokens: number | null = null,
): string {
  const w = () => g.weight(`${hint}_w`, transpose(weight), [weight.cols, weight.rows]);
  const b = (values: Float32Array) => g.weight(`${hint}_bias`, values, [values.length]);
  if (precision === 'fp32' && bias && tokens !== null) {
    const product = g.node('Gemm', [g.node('Reshape', [x, g.constI([-1, weight.cols])]), w(), b(bias)]);
    return g.node('Reshape', [product, g.constI([-1, tokens, weight.rows])]);
  }
  const y = precision === 'int8' ? int8MatMul(g, x, weight, hint) : g.node('MatMul', [x, w()]);
  return bias ? g.node('Add', [y, b(bias)]) : y;
}

export function activation(g: GraphBuilder, x: string, act: Activation): string {
  if (act === 'quick_gelu') return g.node('Mul', [x, g.node('Sigmoid', [g.node('Mul', [x, g.constF([1.702], [])])])]);
  // exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)); Gelu itself is opset 20, beyond TensorRT's common support.
  const erf = g.node('Erf', [g.node('Mul', [x, g.constF([Math.SQRT1_2], [])])]);
  return g.node('Mul', [g.node('Mul', [x, g.constF([0.5], [])]), g.node('Add', [erf, g.constF([1], [])])]);
}

export interface AttentionOptions {
  heads: number;
  /** Additive mask broadcastable to [B, heads, T, T] (0 / -inf), or null. */
  mask: string | null;
  /** Shape hints: batch may be symbolic; tokens and width are static in the vision graph. */
  tokens: number | null;
  width: number;
  precision: WeightPrecision;
}

export interface AttentionTrace {
  out: string;
  /** Attention probabilities [B, heads, T, T]. */
  probs: string;
  /** Per-head queries (already scaled by 1/sqrt(d)), keys and values [B, heads, T, d]. */
  q: string;
  k: string;
  v: string;
}

/** Multi-head self-attention; returns the output [B,T,W] and the intermediates a reverse pass needs. */
export function attention(g: GraphBuilder, x: string, w: BlockWeights, o: AttentionOptions, hint: string): AttentionTrace {
  const d = o.width / o.heads;
  const qkv = linear(g, x, w.qkvWeight, w.qkvBias, o.precision, `${hint}_qkv`, o.tokens);
  // [B, T, 3W] -> [B, T, 3, h, d] -> [3, B, h, T, d]
  const split = g.node('Transpose', [g.node('Reshape', [qkv, g.constI([0, o.tokens ?? -1, 3, o.heads, d])])], {
    perm: [2, 0, 3, 1, 4],
  });
  const [q, k, v] = g.nodeN('Split', [split, g.constI([1, 1, 1])], 3, { axis: 0 }).map((t) => g.node('Squeeze', [t, g.constI([0])]));
  const qs = g.node('Mul', [q, g.constF([1 / Math.sqrt(d)], [])]);
  let scores = g.node('MatMul', [qs, g.node('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  if (o.mask) scores = g.node('Add', [scores, o.mask]);
  const probs = g.node('Softmax', [scores], { axis: -1 });
  const ctx = g.node('MatMul', [probs, v]); // [B, h, T, d]
  const merged = g.node('Reshape', [g.node('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.constI([0, o.tokens ?? -1, o.width])]);
  return { out: linear(g, merged, w.outWeight, w.outBias, o.precision, `${hint}_out`, o.tokens), probs, q: qs, k, v };
}

/**
 * One column block of the MLP's hidden layer: rows of c_fc (its output channels), the matching
 * bias entries and columns of c_proj (its input channels).
 */
export interface MlpChunk {
  fcWeight: Matrix;
  fcBias: Float32Array;
  projWeight: Matrix;
}

/**
 * The MLP split into `chunks` equal blocks of its hidden dimension: c_proj(act(c_fc(x))) is the
 * sum over blocks of c_proj_i(act(c_fc_i(x))), the same up to float32 summation order. WHY: on
 * the CPU provider a K = 4W contraction (c_proj) runs well below the speed of K <= 2W ones (MLAS's
 * SGEMM, measured with bench/profile-vision.ts), so the vision graph trades one long contraction
 * for a few short ones. One chunk returns the block's own matrices (no copy, so graphs sharing a
 * weights file still store them once).
 */
export function mlpChunks(w: BlockWeights, chunks: number): MlpChunk[] {
  if (chunks === 1) return [{ fcWeight: w.fcWeight, fcBias: w.fcBias, projWeight: w.projWeight }];
  const hidden = w.fcWeight.rows;
  const size = hidden / chunks;
  const proj = w.projWeight;
  return Array.from({ length: chunks }, (_, i) => {
    const [from, to] = [i * size, (i + 1) * size];
    const projData = new Float32Array(proj.rows * size);
    for (let r = 0; r < proj.rows; r++) projData.set(proj.data.subarray(r * proj.cols + from, r * proj.cols + to), r * size);
    return {
      fcWeight: { rows: size, cols: w.fcWeight.cols, data: w.fcWeight.data.subarray(from * w.fcWeight.cols, to * w.fcWeight.cols) },
      fcBias: w.fcBias.subarray(from, to),
      projWeight: { rows: proj.rows, cols: size, data: projData },
    };
  });
}

/** Everything a block computed, named, so the text gradient graph can run the reverse pass. */
export interface BlockTrace {
  input: string;
  attn: AttentionTrace;
  /** After the attention residual. */
  mid: string;
  /** The MLP chunks and their pre-activations, in the same order. */
  mlp: MlpChunk[];
  preAct: string[];
  out: string;
  probs: string;
}

export interface BlockOptions extends AttentionOptions {
  act: Activation;
  eps: number;
  /** Hidden-dimension blocks of the MLP (see mlpChunks); must divide its width. */
  mlpChunks: number;
}

export function residualBlock(g: GraphBuilder, x: string, w: BlockWeights, o: BlockOptions, hint: string): BlockTrace {
  const attn = attention(g, layerNorm(g, x, w.ln1, o.eps, `${hint}_ln1`), w, o, hint);
  const mid = g.node('Add', [x, attn.out]);
  const normed = layerNorm(g, mid, w.ln2, o.eps, `${hint}_ln2`);
  const mlp = mlpChunks(w, o.mlpChunks);
  const part = (i: number) => (mlp.length === 1 ? '' : String(i));
  const preAct = mlp.map((c, i) => linear(g, normed, c.fcWeight, c.fcBias, o.precision, `${hint}_fc${part(i)}`, o.tokens));
  // c_proj's bias once, on the first block's product
  const products = mlp.map((c, i) =>
    linear(g, activation(g, preAct[i], o.act), c.projWeight, i === 0 ? w.projBias : null, o.precision, `${hint}_proj${part(i)}`, o.tokens),
  );
  const out = g.node('Add', [mid, products.reduce((sum, p) => g.node('Add', [sum, p]))]);
  return { input: x, attn, mid, mlp, preAct, out, probs: attn.probs };
}

// Reverse-mode pieces (vector-Jacobian products with respect to activations only: the weights
// are frozen) for the transformer subgraphs of transformer.ts. Every function takes the upstream
// gradient of a forward output and returns the gradient of its input, as ONNX nodes. Only
// standard ops, so the gradient graph runs on every execution provider.
import type { Activation, BlockWeights, Matrix } from '../weights/clip-weights.ts';
import type { GraphBuilder } from './graph-builder.ts';
import type { AttentionTrace, BlockTrace } from './transformer.ts';

/** dy @ W for a forward x @ W^T: the PyTorch [out, in] layout is exactly the matrix needed. */
export function linearBackward(g: GraphBuilder, dy: string, weight: Matrix, hint: string): string {
  return g.node('MatMul', [dy, g.weight(`${hint}_wT`, weight.data, [weight.rows, weight.cols])]);
}

/** LayerNorm over the last axis: dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma. */
export function layerNormBackward(g: GraphBuilder, x: string, gamma: Float32Array, eps: number, dy: string, hint: string): string {
  const mean = (t: string) => g.node('ReduceMean', [t], { axes: [-1], keepdims: 1 });
  const centred = g.node('Sub', [x, mean(x)]);
  const variance = mean(g.node('Mul', [centred, centred]));
  const rstd = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [variance, g.constF([eps], [])])])]);
  const xhat = g.node('Mul', [centred, rstd]);
  const dxhat = g.node('Mul', [dy, g.weight(`${hint}_gamma`, gamma, [gamma.length])]);
  const inner = g.node('Sub', [g.node('Sub', [dxhat, mean(dxhat)]), g.node('Mul', [xhat, mean(g.node('Mul', [dxhat, xhat]))])]);
  return g.node('Mul', [rstd, inner]);
}

export function activationBackward(g: GraphBuilder, x: string, dy: string, act: Activation): string {
  const c = (v: number) => g.constF([v], []);
  if (act === 'quick_gelu') {
    // d/dx [x sig(a x)] = sig(a x) + a x sig(a x) (1 - sig(a x)), a = 1.702
    const ax = g.node('Mul', [x, c(1.702)]);
    const sig = g.node('Sigmoid', [ax]);
    const deriv = g.node('Add', [sig, g.node('Mul', [g.node('Mul', [ax, sig]), g.node('Sub', [c(1), sig])])]);
    return g.node('Mul', [dy, deriv]);
  }
  // d/dx [x Phi(x)] = Phi(x) + x phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = exp(-x^2/2) / sqrt(2 pi)
  const cdf = g.node('Mul', [g.node('Add', [g.node('Erf', [g.node('Mul', [x, c(Math.SQRT1_2)])]), c(1)]), c(0.5)]);
  const pdf = g.node('Mul', [g.node('Exp', [g.node('Mul', [g.node('Mul', [x, x]), c(-0.5)])]), c(1 / Math.sqrt(2 * Math.PI))]);
  return g.node('Mul', [dy, g.node('Add', [cdf, g.node('Mul', [x, pdf])])]);
}

function swapLast(g: GraphBuilder, t: string): string {
  return g.node('Transpose', [t], { perm: [0, 1, 3, 2] });
}

/** Reverse of `attention`: gradient of its input (the ln_1 output) [B,T,W]. */
export function attentionBackward(g: GraphBuilder, a: AttentionTrace, w: BlockWeights, heads: number, width: number, dOut: string, hint: string): string {
  const d = width / heads;
  const dMerged = linearBackward(g, dOut, w.outWeight, `${hint}_out`);
  const dCtx = g.node('Transpose', [g.node('Reshape', [dMerged, g.constI([0, -1, heads, d])])], { perm: [0, 2, 1, 3] });
  const dProbs = g.node('MatMul', [dCtx, swapLast(g, a.v)]);
  const dv = g.node('MatMul', [swapLast(g, a.probs), dCtx]);
  // softmax: ds = P * (dP - sum(dP * P))
  const rowDot = g.node('ReduceSum', [g.node('Mul', [dProbs, a.probs]), g.constI([-1])], { keepdims: 1 });
  const dScores = g.node('Mul', [a.probs, g.node('Sub', [dProbs, rowDot])]);
  // scores = q_scaled k^T with q_scaled = q / sqrt(d)
  const dq = g.node('Mul', [g.node('MatMul', [dScores, a.k]), g.constF([1 / Math.sqrt(d)], [])]);
  const dk = g.node('MatMul', [swapLast(g, dScores), a.q]);
  const stacked = g.node(
    'Concat',
    [dq, dk, dv].map((t) => g.node('Unsqueeze', [t, g.constI([0])])),
    { axis: 0 },
  ); // [3,B,h,T,d]
  // inverse of the forward permutation [2,0,3,1,4]
  const dQkv = g.node('Reshape', [g.node('Transpose', [stacked], { perm: [1, 3, 0, 2, 4] }), g.constI([0, -1, 3 * width])]);
  return linearBackward(g, dQkv, w.qkvWeight, `${hint}_qkv`);
}

export interface BlockShape {
  heads: number;
  width: number;
  act: Activation;
  eps: number;
}

/** Reverse of `residualBlock`: gradient of the block input given that of its output. */
export function blockBackward(g: GraphBuilder, t: BlockTrace, w: BlockWeights, s: BlockShape, dOut: string, hint: string): string {
  const part = (i: number) => (t.mlp.length === 1 ? '' : String(i));
  const dLn2 = t.mlp
    .map((c, i) => {
      const dAct = linearBackward(g, dOut, c.projWeight, `${hint}_proj${part(i)}`);
      return linearBackward(g, activationBackward(g, t.preAct[i], dAct, s.act), c.fcWeight, `${hint}_fc${part(i)}`);
    })
    .reduce((sum, d) => g.node('Add', [sum, d]));
  const dMid = g.node('Add', [dOut, layerNormBackward(g, t.mid, w.ln2.weight, s.eps, dLn2, `${hint}_ln2`)]);
  const dLn1 = attentionBackward(g, t.attn, w, s.heads, s.width, dMid, hint);
  return g.node('Add', [dMid, layerNormBackward(g, t.input, w.ln1.weight, s.eps, dLn1, `${hint}_ln1`)]);
}

// text_vjp.onnx: the reverse pass of text.onnx with respect to its input token embeddings.
// prompt_embeds [P,S,W], eot_index [P], upstream_grad [P,E]
//   -> prompt_grad [P,S,W] = d(sum(upstream_grad * text_embeds)) / d(prompt_embeds)
// The weights are frozen, so no weight gradients are formed. JavaScript ONNX runtimes cannot
// train (onnxruntime-web's training build is gone since 1.20), hence this explicit graph.

import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { blockBackward, layerNormBackward } from '../onnx/reverse.ts';
import { transpose } from '../onnx/transformer.ts';
import type { ClipWeights } from '../weights/clip-weights.ts';
import { declareTextInputs, textForward } from './text.ts';

export function buildTextVjpGraph(g: GraphBuilder, w: ClipWeights): void {
  const t = w.text;
  const inp = declareTextInputs(g, w);
  const upstream = g.input('upstream_grad', 'float32', ['P', w.embedDim]);
  const fwd = textForward(g, w, inp);

  const dNormed = g.node('MatMul', [upstream, g.weight('text_proj_T', transpose(t.projection), [t.projection.cols, t.width])]);
  const dEot = layerNormBackward(g, fwd.eot, t.lnFinal.weight, w.layerNormEps, dNormed, 'ln_final');
  // the one-hot pick scatters the gradient back to the end-of-text position: [P,S,1] * [P,1,W]
  let dx = g.node('Mul', [g.node('Unsqueeze', [fwd.onehot, g.constI([2])]), g.node('Unsqueeze', [dEot, g.constI([1])])]);
  const shape = { heads: t.heads, width: t.width, act: w.activation, eps: w.layerNormEps };
  for (let i = t.blocks.length - 1; i >= 0; i--) dx = blockBackward(g, fwd.blocks[i], t.blocks[i], shape, dx, `txt${i}_bwd`);
  // the positional embedding is an addition: the gradient passes through unchanged
  g.output(dx, 'prompt_grad', 'float32', ['P', 'S', t.width]);
}

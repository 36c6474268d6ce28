// text.onnx: free token embeddings -> text features, so learned prompts need no token ids.
// prompt_embeds [P,S,W] (S <= context length), eot_index [P] -> text_embeds [P,E]
//   = ln_final(transformer(prompt_embeds + pos[:S]))[eot] @ text_projection

import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { type BlockTrace, layerNorm, residualBlock } from '../onnx/transformer.ts';
import type { ClipWeights } from '../weights/clip-weights.ts';

/** Causal mask [ctx, ctx]: 0 on and below the diagonal, -inf above. */
export function causalMask(ctx: number): Float32Array {
  const m = new Float32Array(ctx * ctx);
  for (let i = 0; i < ctx; i++) for (let j = i + 1; j < ctx; j++) m[i * ctx + j] = -Infinity;
  return m;
}

export interface TextGraphInputs {
  promptEmbeds: string;
  eotIndex: string;
}

/** Declares the text graph's inputs; shared by text.onnx and text_vjp.onnx. */
export function declareTextInputs(g: GraphBuilder, w: ClipWeights): TextGraphInputs {
  return {
    promptEmbeds: g.input('prompt_embeds', 'float32', ['P', 'S', w.text.width]),
    eotIndex: g.input('eot_index', 'int64', ['P']),
  };
}

/** The forward pass's named intermediates (the reverse pass in text_vjp.onnx reads them). */
export interface TextTrace {
  blocks: BlockTrace[];
  /** One-hot of eot_index over positions [P,S]. */
  onehot: string;
  /** Transformer output at the end-of-text position, before ln_final [P,W]. */
  eot: string;
  textEmbeds: string;
}

/** Adds the text forward pass to `g`. */
export function textForward(g: GraphBuilder, w: ClipWeights, inp: TextGraphInputs): TextTrace {
  const t = w.text;
  const seqLen = g.node('Slice', [g.node('Shape', [inp.promptEmbeds]), g.constI([1]), g.constI([2])]);
  const zero = g.constI([0]);
  const pos = g.node('Slice', [g.weight('text_pos', t.positionalEmbedding.data, [t.contextLength, t.width]), zero, seqLen, zero]);
  let x = g.node('Add', [inp.promptEmbeds, pos]);
  const full = g.weight('causal_mask', causalMask(t.contextLength), [t.contextLength, t.contextLength]);
  const mask = g.node('Slice', [full, g.constI([0, 0]), g.node('Concat', [seqLen, seqLen], { axis: 0 }), g.constI([0, 1])]);
  // float32 always: text_vjp's reverse pass differentiates exactly this forward, and the text
  // encoder runs per prompt change, not per frame, so it gains nothing from int8
  const opts = { heads: t.heads, mask, tokens: null, width: t.width, act: w.activation, eps: w.layerNormEps, precision: 'fp32', mlpChunks: 1 } as const;
  const blocks = t.blocks.map((b, i) => {
    const trace = residualBlock(g, x, b, opts, `txt${i}`);
    x = trace.out;
    return trace;
  });
  // Pick the end-of-text position with a one-hot MatMul (differentiable, no Gather), then ln_final:
  // LayerNorm acts per token, so normalising after the pick is the same and cheaper. The one-hot
  // is (range(S) == eot_index) rather than OneHot: TensorRT takes OneHot only with a depth known
  // when the engine is built, and S is a dynamic dimension.
  const positions = g.node('Range', [g.constI([0], []), g.node('Reshape', [seqLen, g.constI([])]), g.constI([1], [])]); // [S]
  const onehot = g.node('Cast', [g.node('Equal', [g.node('Unsqueeze', [inp.eotIndex, g.constI([1])]), positions])], { to: 1 /* FLOAT */ }); // [P,S]
  const picked = g.node('MatMul', [g.node('Unsqueeze', [onehot, g.constI([1])]), x]); // [P,1,W]
  const eot = g.node('Squeeze', [picked, g.constI([1])]);
  const normed = layerNorm(g, eot, t.lnFinal, w.layerNormEps, 'ln_final');
  const textEmbeds = g.node('MatMul', [normed, g.weight('text_proj', t.projection.data, [t.width, t.projection.cols])]);
  return { blocks, onehot, eot, textEmbeds };
}

export function buildTextGraph(g: GraphBuilder, w: ClipWeights): void {
  const inp = declareTextInputs(g, w);
  g.output(textForward(g, w, inp).textEmbeds, 'text_embeds', 'float32', ['P', w.embedDim]);
}

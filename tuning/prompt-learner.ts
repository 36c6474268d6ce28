// The learnable prompts: normal = [SOS] V1..Vn N1..Nm [EOT], anomalous = [SOS] V1..Vn A1..Am [EOT],
// V shared, N and A state-specific; all continuous token embeddings, no words. SOS and EOT are the
// fixed embeddings of CLIP's start/end tokens. With the causal text transformer nothing follows
// EOT, so a prompt is exactly S = n + m + 2 tokens and eot_index = S - 1.

import type { PromptVocabulary } from './clip-text-encoder.ts';
import type { Rng } from './rng.ts';

export interface PromptLayout {
  /** n: shared context tokens V. */
  shared: number;
  /** m: state tokens per prompt (N for normal, A for anomalous). */
  state: number;
  /** W: token embedding width of the text transformer. */
  width: number;
}

export interface PromptTokens {
  layout: PromptLayout;
  sot: Float32Array;
  eot: Float32Array;
  /** The learnable vectors, flat: V (n x W), then N (m x W), then A (m x W). */
  params: Float32Array;
}

/**
 * Random: every learnable value ~ N(0, std^2) (std 0.02, as CoOp). Words: V from the token
 * embeddings of `shared` (e.g. "a photo of a"), N / A from `normal` / `anomalous` if given; slots
 * beyond a text's tokens are random. Generic words only: no class names.
 */
export type PromptInit = { kind: 'random'; std?: number } | { kind: 'words'; shared: string; normal?: string; anomalous?: string; std?: number };

export function promptLength(layout: PromptLayout): number {
  return layout.shared + layout.state + 2;
}

export function initPromptTokens(layout: PromptLayout, vocab: PromptVocabulary, init: PromptInit, rng: Rng): PromptTokens {
  const { shared: n, state: m, width: W } = layout;
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(m) && m >= 1 && W >= 1)) {
    throw new RangeError(`invalid prompt layout: ${n} shared, ${m} state tokens, width ${W}`);
  }
  const embedding = (id: number): Float32Array => {
    const e = vocab.tokenEmbedding(id);
    if (e.length !== W) throw new RangeError(`token embedding ${id} has width ${e.length}, the prompt layout ${W}`);
    return e;
  };
  const std = init.std ?? 0.02;
  const params = new Float32Array((n + 2 * m) * W);
  for (let i = 0; i < params.length; i++) params[i] = std * rng.normal();
  if (init.kind === 'words') {
    const fill = (text: string | undefined, first: number, count: number) => {
      if (text === undefined) return;
      vocab
        .encodeWords(text)
        .slice(0, count)
        .forEach((id, j) => params.set(embedding(id), (first + j) * W));
    };
    fill(init.shared, 0, n);
    fill(init.normal, n, m);
    fill(init.anomalous, n + m, m);
  }
  return { layout, sot: embedding(vocab.sot), eot: embedding(vocab.eot), params };
}

/** prompt_embeds [2 * copies, S, W]: the (normal, anomalous) pair repeated `copies` times. */
export function assemblePrompts(tokens: PromptTokens, copies = 1): Float32Array {
  const { shared: n, state: m, width: W } = tokens.layout;
  const S = promptLength(tokens.layout);
  const out = new Float32Array(2 * copies * S * W);
  const shared = tokens.params.subarray(0, n * W);
  for (let row = 0; row < 2 * copies; row++) {
    const state = row % 2 === 0 ? n : n + m; // N for normal rows, A for anomalous rows
    const base = row * S * W;
    out.set(tokens.sot, base);
    out.set(shared, base + W);
    out.set(tokens.params.subarray(state * W, (state + m) * W), base + (1 + n) * W);
    out.set(tokens.eot, base + (S - 1) * W);
  }
  return out;
}

/** eot_index for `assemblePrompts(tokens, copies)`: S - 1 for every row. */
export function promptEotIndex(layout: PromptLayout, copies = 1): BigInt64Array {
  return new BigInt64Array(2 * copies).fill(BigInt(promptLength(layout) - 1));
}

/**
 * The gradient for `params` from prompt_grad [2 * copies, S, W], taking rows 2*pair (normal) and
 * 2*pair + 1 (anomalous): V gets the sum of both rows, N the normal row, A the anomalous row;
 * the SOS and EOT positions are fixed and drop out.
 */
export function gatherPromptGrad(layout: PromptLayout, promptGrad: Float32Array, pair = 0): Float32Array {
  const { shared: n, state: m, width: W } = layout;
  const S = promptLength(layout);
  if (promptGrad.length < (2 * pair + 2) * S * W) {
    throw new RangeError(`prompt_grad has ${promptGrad.length} values, too few for rows ${2 * pair}..${2 * pair + 1} of [*, ${S}, ${W}]`);
  }
  const grad = new Float32Array((n + 2 * m) * W);
  for (let r = 0; r < 2; r++) {
    const row = (2 * pair + r) * S * W;
    for (let i = 0; i < n * W; i++) grad[i] += promptGrad[row + W + i];
    grad.set(promptGrad.subarray(row + (1 + n) * W, row + (1 + n + m) * W), (n + r * m) * W);
  }
  return grad;
}

// Test double for the bundle's text encoder (text.onnx / text_vjp.onnx): a tiny causal-by-
// construction model that reads the tokens up to the end-of-text position,
//   text_embeds[p] = Proj tanh( sum_{s <= eot_p} M_s x[p,s] ),
// with its exact reverse pass. It lets the training loop run end to end in pure TypeScript.

import type { ClipTextEncoder, PromptVocabulary } from '../../tuning/clip-text-encoder.ts';
import { createRng } from '../../tuning/rng.ts';

export class TinyTextEncoderDouble implements ClipTextEncoder {
  readonly calls: { kind: 'encode' | 'vjp'; P: number; S: number }[] = [];
  private readonly mix: Float64Array; // [maxTokens, H, W]
  private readonly proj: Float64Array; // [E, H]

  constructor(
    readonly width: number,
    readonly hidden: number,
    readonly embedDim: number,
    readonly maxTokens: number,
    seed: number,
  ) {
    const rng = createRng(seed);
    this.mix = Float64Array.from({ length: maxTokens * hidden * width }, () => rng.normal() / Math.sqrt(width));
    this.proj = Float64Array.from({ length: embedDim * hidden }, () => rng.normal() / Math.sqrt(hidden));
  }

  private hiddenState(x: Float32Array, p: number, S: number, eot: number): Float64Array {
    const { width: W, hidden: H } = this;
    if (eot >= this.maxTokens || eot >= S) throw new RangeError(`eot ${eot} out of range`);
    const h = new Float64Array(H);
    for (let s = 0; s <= eot; s++) {
      for (let j = 0; j < H; j++) {
        let acc = 0;
        for (let w = 0; w < W; w++) acc += this.mix[(s * H + j) * W + w] * x[(p * S + s) * W + w];
        h[j] += acc;
      }
    }
    return h;
  }

  async encode(x: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array): Promise<Float32Array> {
    this.calls.push({ kind: 'encode', P, S });
    const { hidden: H, embedDim: E } = this;
    const out = new Float32Array(P * E);
    for (let p = 0; p < P; p++) {
      const h = this.hiddenState(x, p, S, Number(eot[p]));
      for (let e = 0; e < E; e++) {
        let acc = 0;
        for (let j = 0; j < H; j++) acc += this.proj[e * H + j] * Math.tanh(h[j]);
        out[p * E + e] = acc;
      }
    }
    return out;
  }

  async vjp(x: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array, upstream: Float32Array): Promise<Float32Array> {
    this.calls.push({ kind: 'vjp', P, S });
    const { width: W, hidden: H, embedDim: E } = this;
    const grad = new Float32Array(P * S * W);
    for (let p = 0; p < P; p++) {
      const end = Number(eot[p]);
      const h = this.hiddenState(x, p, S, end);
      const dh = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        let acc = 0;
        for (let e = 0; e < E; e++) acc += this.proj[e * H + j] * upstream[p * E + e];
        dh[j] = acc * (1 - Math.tanh(h[j]) ** 2);
      }
      for (let s = 0; s <= end; s++) {
        for (let w = 0; w < W; w++) {
          let acc = 0;
          for (let j = 0; j < H; j++) acc += this.mix[(s * H + j) * W + w] * dh[j];
          grad[(p * S + s) * W + w] = acc;
        }
      }
    }
    return grad;
  }
}

/** A vocabulary double: words map to ids by a fixed table; embedding of id k is seeded by k. */
export function tinyVocabulary(width: number): PromptVocabulary & { words: Map<string, number> } {
  const words = new Map<string, number>();
  return {
    sot: 1000,
    eot: 1001,
    words,
    encodeWords(text: string): number[] {
      return text
        .toLowerCase()
        .split(/[^a-z-]+/)
        .filter(Boolean)
        .map((w) => {
          if (!words.has(w)) words.set(w, 10 + words.size);
          return words.get(w)!;
        });
    },
    tokenEmbedding(id: number): Float32Array {
      const rng = createRng(7, id);
      return Float32Array.from({ length: width }, () => 0.5 * rng.normal());
    },
  };
}

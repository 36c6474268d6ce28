// The ClipTextEncoder of a bundle: text.onnx for the forward pass, text_vjp.onnx for the reverse pass
// with respect to the prompt token embeddings. Prompts are fed at their own length S (n + m + 2
// tokens for learned prompts), not padded to the context length: the text transformer is causal,
// so nothing after the end token changes the result, and the cost grows with S.
import ort from 'onnxruntime-node';
import type { Bundle } from '../models/bundle/load.ts';
import { createSession, type SessionFactoryOptions } from '../models/session.ts';
import type { ClipTextEncoder } from './clip-text-encoder.ts';

export class OnnxTextEncoder implements ClipTextEncoder {
  private constructor(
    private readonly text: ort.InferenceSession,
    private readonly vjpSession: ort.InferenceSession,
    /** W: token embedding width. */
    readonly width: number,
    /** E: text embedding width. */
    readonly embedDim: number,
    readonly contextLength: number,
  ) {}

  static async open(bundle: Bundle, options: SessionFactoryOptions): Promise<OnnxTextEncoder> {
    const text = await createSession(bundle.paths.text, options);
    try {
      const vjp = await createSession(bundle.paths.textVjp, options);
      const m = bundle.manifest;
      return new OnnxTextEncoder(text.session, vjp.session, m.text.width, m.embedDim, m.text.contextLength);
    } catch (e) {
      await text.session.release();
      throw e;
    }
  }

  async encode(promptEmbeds: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array): Promise<Float32Array> {
    const out = await this.text.run(this.feeds(promptEmbeds, P, S, eot));
    return out.text_embeds.data as Float32Array;
  }

  async vjp(promptEmbeds: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array, upstream: Float32Array): Promise<Float32Array> {
    if (upstream.length !== P * this.embedDim) {
      throw new RangeError(`upstream gradient has ${upstream.length} values, expected P x E = ${P} x ${this.embedDim}`);
    }
    const out = await this.vjpSession.run({
      ...this.feeds(promptEmbeds, P, S, eot),
      upstream_grad: new ort.Tensor('float32', upstream, [P, this.embedDim]),
    });
    return out.prompt_grad.data as Float32Array;
  }

  async release(): Promise<void> {
    await Promise.all([this.text.release(), this.vjpSession.release()]);
  }

  private feeds(promptEmbeds: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array): Record<string, ort.Tensor> {
    const W = this.width;
    if (!(S >= 1 && S <= this.contextLength)) throw new RangeError(`prompts of ${S} tokens: the text model takes 1..${this.contextLength}`);
    if (promptEmbeds.length !== P * S * W)
      throw new RangeError(`prompt embeddings have ${promptEmbeds.length} values, expected P x S x W = ${P} x ${S} x ${W}`);
    if (eot.length !== P) throw new RangeError(`${eot.length} end-of-text positions for ${P} prompts`);
    const index = eot instanceof BigInt64Array ? eot : BigInt64Array.from(eot, (v) => BigInt(v));
    for (const v of index) if (v < 0n || v >= BigInt(S)) throw new RangeError(`end-of-text position ${v} is outside 0..${S - 1}`);
    return {
      prompt_embeds: new ort.Tensor('float32', promptEmbeds, [P, S, W]),
      eot_index: new ort.Tensor('int64', index, [P]),
    };
  }
}

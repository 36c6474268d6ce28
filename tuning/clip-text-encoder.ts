// What prompt learning needs from the text side of the bundle. The implementation runs
// text.onnx and text_vjp.onnx; tests use a small pure-TypeScript double.

export interface ClipTextEncoder {
  /** text_embeds [P,E] for prompt_embeds [P,S,W] and the end-of-text position of each prompt. */
  encode(promptEmbeds: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array): Promise<Float32Array>;
  /**
   * prompt_grad [P,S,W] = d(sum(upstream * text_embeds)) / d(prompt_embeds) for upstream [P,E]:
   * the reverse pass of `encode` with respect to its input.
   */
  vjp(promptEmbeds: Float32Array, P: number, S: number, eot: Int32Array | BigInt64Array, upstream: Float32Array): Promise<Float32Array>;
}

/** Token ids and embeddings: a CLIP tokenizer plus the bundle's token embedding table. */
export interface PromptVocabulary {
  readonly sot: number;
  readonly eot: number;
  /** BPE ids of `text` without start/end tokens (ClipTokenizer.encodeWords). */
  encodeWords(text: string): number[];
  /** Row `id` of the token embedding table, [W]. */
  tokenEmbedding(id: number): Float32Array;
}

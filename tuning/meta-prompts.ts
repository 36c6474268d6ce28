// Meta prompts: the only human text in tuning, a few generic class-agnostic templates per state.
// Their text embeddings are normalised and averaged per state (CLIP's prompt ensembling); the
// anomaly probabilities they give anchor MPTS.
import type { ClipTextEncoder, PromptVocabulary } from './clip-text-encoder.ts';

export interface MetaTemplates {
  normal: string[];
  anomalous: string[];
}

export const defaultMetaTemplates: MetaTemplates = {
  normal: ['a photo of a flawless object.', 'a photo of a normal object.', 'a photo of a perfect object.', 'a close-up photo of an object without defects.'],
  anomalous: [
    'a photo of a damaged object.',
    'a photo of an object with a defect.',
    'a photo of a broken object.',
    'a close-up photo of an object with a flaw.',
  ],
};

/** CLIP's text context length: the longest token sequence a text encoder accepts. */
export const clipContextLength = 77;

/** Meta text embeddings [2,E] (normal, anomalous): each state's templates encoded, normalised and averaged. */
export async function encodeMetaPrompts(
  encoder: ClipTextEncoder,
  vocab: PromptVocabulary,
  templates: MetaTemplates = defaultMetaTemplates,
  contextLength = clipContextLength,
): Promise<Float32Array> {
  const texts = [...templates.normal, ...templates.anomalous];
  if (templates.normal.length === 0 || templates.anomalous.length === 0) {
    throw new RangeError('meta prompts need at least one normal and one anomalous template');
  }
  const ids = texts.map((text) => [vocab.sot, ...vocab.encodeWords(text), vocab.eot]);
  ids.forEach((row, i) => {
    if (row.length > contextLength) {
      throw new RangeError(`meta prompt "${texts[i]}" is ${row.length} tokens; the text encoder takes at most ${contextLength}`);
    }
  });
  const P = texts.length;
  const S = Math.max(...ids.map((row) => row.length));
  const W = vocab.tokenEmbedding(vocab.sot).length;
  // Rows shorter than S are zero-padded after their end token; the causal encoder never sees it.
  const embeds = new Float32Array(P * S * W);
  ids.forEach((row, p) => row.forEach((id, s) => embeds.set(vocab.tokenEmbedding(id), (p * S + s) * W)));
  const eot = BigInt64Array.from(ids, (row) => BigInt(row.length - 1));
  const text = await encoder.encode(embeds, P, S, eot);
  const E = text.length / P;
  if (!Number.isInteger(E)) throw new RangeError(`the text encoder returned ${text.length} values for ${P} prompts`);

  const out = new Float32Array(2 * E);
  const sums = [new Float64Array(E), new Float64Array(E)];
  for (let p = 0; p < P; p++) {
    const state = p < templates.normal.length ? 0 : 1;
    let sq = 0;
    for (let e = 0; e < E; e++) sq += text[p * E + e] ** 2;
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let e = 0; e < E; e++) sums[state][e] += text[p * E + e] * inv;
  }
  const counts = [templates.normal.length, templates.anomalous.length];
  for (let s = 0; s < 2; s++) for (let e = 0; e < E; e++) out[s * E + e] = sums[s][e] / counts[s];
  return out;
}

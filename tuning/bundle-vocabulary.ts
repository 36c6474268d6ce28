// The PromptVocabulary of a bundle: its CLIP BPE tokenizer and its token embedding table.
import { type Bundle, readTokenEmbedding } from '../models/bundle/load.ts';
import { ClipTokenizer } from '../models/tokenizer.ts';
import { err, ok, type Result } from '../util/result.ts';
import type { PromptVocabulary } from './text-encoder.ts';

export async function bundleVocabulary(bundle: Bundle): Promise<Result<PromptVocabulary>> {
  const table = await readTokenEmbedding(bundle);
  if (!table.ok) return table;
  let tokenizer: ClipTokenizer;
  try {
    tokenizer = ClipTokenizer.load(bundle.paths.vocab);
  } catch (e) {
    return err((e as Error).message);
  }
  const { vocabSize, width, data, sot, eot } = table.value;
  // A text model with a smaller table than CLIP's 49408 tokens (the tiny test fixtures) cannot
  // embed CLIP's word ids; they are folded into its word rows (all but the last two, which are
  // start/end) so meta prompts still run through it. Such a model reads no words anyway.
  const words = vocabSize - 2;
  const fold = tokenizer.vocabSize > vocabSize;
  return ok({
    sot,
    eot,
    encodeWords: (text) => {
      const ids = tokenizer.encodeWords(text);
      return fold ? ids.map((id) => id % words) : ids;
    },
    tokenEmbedding: (id) => {
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new RangeError(`token id ${id} is outside the vocabulary 0..${vocabSize - 1}`);
      return data.subarray(id * width, (id + 1) * width);
    },
  });
}

// The PromptVocabulary of a bundle: its CLIP BPE tokenizer and its token embedding table.
import { type Bundle, readTokenEmbedding } from '../models/bundle/load.ts';
import { ClipTokenizer } from '../models/tokenizer.ts';
import { err, ok, type Result } from '../util/result.ts';
import type { PromptVocabulary } from './clip-text-encoder.ts';

export async function bundleVocabulary(bundle: Bundle): Promise<Result<PromptVocabulary>> {
  const table = await readTokenEmbedding(bundle);
  if (!table.ok) return table;
  const { vocabSize, width, data, sot, eot } = table.value;
  let tokenizer: ClipTokenizer;
  try {
    // Cut to the table: a text model with fewer rows than CLIP's 49408 uses the first merges.
    tokenizer = ClipTokenizer.load(bundle.paths.vocab, vocabSize);
  } catch (e) {
    return err((e as Error).message);
  }
  return ok({
    sot,
    eot,
    encodeWords: (text) => tokenizer.encodeWords(text),
    tokenEmbedding: (id) => {
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new RangeError(`token id ${id} is outside the vocabulary 0..${vocabSize - 1}`);
      return data.subarray(id * width, (id + 1) * width);
    },
  });
}

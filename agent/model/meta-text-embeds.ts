// The meta prompts encoded by a bundle's text model: what the agent scores with before its first
// re-tune. One text forward pass at start-up; the text sessions are released right after.
import type { Bundle } from '../../models/bundle/load.ts';
import { bundleVocabulary } from '../../tuning/bundle-vocabulary.ts';
import { encodeMetaPrompts } from '../../tuning/meta-prompts.ts';
import { OnnxTextEncoder } from '../../tuning/onnx-text-encoder.ts';
import { unwrap } from '../../util/result.ts';

export async function metaTextEmbedsFor(bundle: Bundle): Promise<Float32Array> {
  const vocab = unwrap(await bundleVocabulary(bundle), `bundle ${bundle.dir}`);
  // On the CPU whatever model.execution_providers says: a single forward pass, where a TensorRT
  // engine build for the text graphs would add minutes to the start.
  const text = await OnnxTextEncoder.open(bundle, { providers: ['cpu'] });
  try {
    return await encodeMetaPrompts(text, vocab, undefined, bundle.manifest.text.contextLength);
  } finally {
    await text.release();
  }
}

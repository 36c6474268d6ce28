// Everything tuning and evaluation need from a bundle, opened once: the checksum-verified bundle,
// its identity, the vision runner, the text encoder, the vocabulary and the meta-prompt
// embeddings (which also score images until a tuned set exists).
import { type Bundle, loadBundle } from '../models/bundle/load.ts';
import { type ExecutionProvider, withCpuFallback } from '../models/runtime/execution-providers.ts';
import type { SessionFactoryOptions } from '../models/session.ts';
import { ok, type Result } from '../util/result.ts';
import { bundleIdentity } from './bundle-identity.ts';
import { bundleVocabulary } from './bundle-vocabulary.ts';
import type { PromptVocabulary } from './clip-text-encoder.ts';
import { MemorySearch } from './memory-bank-search.ts';
import { defaultMetaTemplates, encodeMetaPrompts } from './meta-prompts.ts';
import { OnnxTextEncoder } from './onnx-text-encoder.ts';
import type { PromptSet } from './prompt-set.ts';
import { VisionFeatures } from './vision-features.ts';

export interface TuningModels {
  bundle: Bundle;
  identity: PromptSet['bundle'];
  vision: VisionFeatures;
  /** The memory scorer's search; null for a bundle built before memory.onnx existed (`memoryMissing` says so). */
  memory: MemorySearch | null;
  memoryMissing: string | null;
  text: OnnxTextEncoder;
  vocab: PromptVocabulary;
  /** Meta-prompt text embeddings [2,E] (normal, anomalous). */
  metaTextEmbeds: Float32Array;
  release(): Promise<void>;
}

export interface OpenModelsOptions {
  /** Tried in order, with cpu last so that a graph a GPU provider cannot run (one log line says so) still runs; default cpu. */
  providers?: readonly ExecutionProvider[];
}

/** Errors (a missing or corrupt bundle) are values; session failures throw UserError. */
export async function openTuningModels(bundleDir: string, options: OpenModelsOptions): Promise<Result<TuningModels>> {
  const bundle = await loadBundle(bundleDir);
  if (!bundle.ok) return bundle;
  const vocab = await bundleVocabulary(bundle.value);
  if (!vocab.ok) return vocab;
  const identity = await bundleIdentity(bundle.value);
  const sessions: SessionFactoryOptions = { providers: withCpuFallback(options.providers ?? ['cpu']) };
  const text = await OnnxTextEncoder.open(bundle.value, sessions);
  let vision: VisionFeatures;
  try {
    vision = await VisionFeatures.open(bundle.value, sessions);
  } catch (e) {
    await text.release();
    throw e;
  }
  let memory: Result<MemorySearch>;
  try {
    memory = await MemorySearch.open(bundle.value, sessions);
  } catch (e) {
    await Promise.all([text.release(), vision.release()]);
    throw e;
  }
  const release = async () => {
    await Promise.all([text.release(), vision.release(), memory.ok ? memory.value.release() : undefined]);
  };
  try {
    const metaTextEmbeds = await encodeMetaPrompts(text, vocab.value, defaultMetaTemplates, bundle.value.manifest.text.contextLength);
    return ok({
      bundle: bundle.value,
      identity,
      vision,
      memory: memory.ok ? memory.value : null,
      memoryMissing: memory.ok ? null : memory.error,
      text,
      vocab: vocab.value,
      metaTextEmbeds,
      release,
    });
  } catch (e) {
    await release();
    throw e;
  }
}

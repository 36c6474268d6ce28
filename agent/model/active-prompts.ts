// The prompt set the detector scores with, as the state of each scorer. A tuned set from the
// prompt store when there is one; before the first tuning, the meta prompts ("a photo of a
// flawless / damaged object") zero-shot, with the identity calibration (raw anomaly
// probabilities, threshold 0.5): usable, not calibrated.
import { bundleMismatch } from '../../tuning/bundle-identity.ts';
import type { ScoreScale } from '../../tuning/calibration.ts';
import type { PromptSet } from '../../tuning/prompt-set.ts';
import type { LoadedPromptSet, PromptStore } from '../../tuning/prompt-store.ts';
import type { Logger } from '../../util/log.ts';
import { promptScorerState } from '../scoring/prompt-scorer.ts';
import type { Scorer, ScorerName, ScorerState, ScorerStates } from '../scoring/scorer.ts';
import { SCORERS } from '../scoring/scorers.ts';

export const ZERO_SHOT_ID = 'meta-prompts-zero-shot';
const ZERO_SHOT_SCALE: ScoreScale = { min: 0, max: 1, threshold: 0.5 };

export interface ActivePrompts {
  id: string;
  /** The state of each scorer in use; the prompt scorer's is always there (vision.onnx takes text embeddings). */
  scorers: ScorerStates & { prompt: ScorerState };
  /** False for the zero-shot fallback. */
  tuned: boolean;
}

export interface PromptSource {
  store: PromptStore;
  /** The bundle in use: a prompt set tuned for another bundle does not fit. */
  bundle: PromptSet['bundle'];
  /** The scorers to load besides the prompt scorer (`detector.scorers`). */
  scorers: readonly ScorerName[];
  /** The meta prompts encoded by this bundle's text model, [2,E]. */
  metaTextEmbeds(): Promise<Float32Array>;
  log: Logger;
}

export async function loadActivePrompts(src: PromptSource): Promise<ActivePrompts> {
  const current = await src.store.loadCurrent();
  if (current.ok) {
    const { set, warning } = current.value;
    if (warning) src.log.warn(warning);
    const mismatch = bundleMismatch(set, src.bundle);
    if (!mismatch) return { id: set.id, scorers: await loadScorers(current.value, src), tuned: true };
    src.log.warn(`${mismatch}; scoring with the meta prompts until a re-tune`);
  } else if (await src.store.isEmpty()) {
    src.log.info('no prompt set yet (before the first tuning); scoring with the zero-shot meta prompts');
  } else {
    // Sets were stored but none can be used: the detector is no longer calibrated, say so loudly.
    src.log.warn(`no usable prompt set: ${current.error}; scoring with the zero-shot meta prompts until a re-tune`);
  }
  return { id: ZERO_SHOT_ID, scorers: { prompt: promptScorerState(await src.metaTextEmbeds(), ZERO_SHOT_SCALE) }, tuned: false };
}

/** Every scorer's state from the set; a scorer that cannot load is left out with a warning. */
async function loadScorers(stored: LoadedPromptSet, src: PromptSource): Promise<ActivePrompts['scorers']> {
  const scorers: ScorerStates = {};
  for (const name of new Set<ScorerName>(['prompt', ...src.scorers])) {
    const scorer: Scorer = SCORERS[name];
    const state = await scorer.load(stored);
    if (!state.ok) src.log.warn(`prompt set ${stored.set.id}: scorer ${name} left out: ${state.error}`);
    else if (state.value) scorers[name] = state.value;
  }
  const { prompt } = scorers;
  if (!prompt) throw new Error(`prompt set ${stored.path}: the prompt scorer could not load it`);
  return { ...scorers, prompt };
}

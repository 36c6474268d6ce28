// The prompt set the detector scores with. A tuned set from the prompt store when there is one;
// before the first tuning, the meta prompts ("a photo of a flawless / damaged object") zero-shot,
// with the identity calibration (raw anomaly probabilities, threshold 0.5): usable, not calibrated.
import type { ScoreScale } from '../tuning/calibration.ts';
import { bundleMismatch } from '../tuning/bundle-identity.ts';
import { textEmbedsOf, type PromptSet } from '../tuning/prompt-set.ts';
import type { PromptStore } from '../tuning/prompt-store.ts';
import type { Logger } from '../util/log.ts';

export const ZERO_SHOT_ID = 'meta-prompts-zero-shot';

export interface ActivePrompts {
  id: string;
  textEmbeds: Float32Array;
  calibration: ScoreScale;
  /** False for the zero-shot fallback. */
  tuned: boolean;
}

export interface PromptSource {
  store: PromptStore;
  /** The bundle in use: a prompt set tuned for another bundle does not fit. */
  bundle: PromptSet['bundle'];
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
    if (!mismatch) return { id: set.id, textEmbeds: textEmbedsOf(set), calibration: set.calibration, tuned: true };
    src.log.warn(`${mismatch}; scoring with the meta prompts until a re-tune`);
  }
  return { id: ZERO_SHOT_ID, textEmbeds: await src.metaTextEmbeds(), calibration: { min: 0, max: 1, threshold: 0.5 }, tuned: false };
}

// The scorers by type key. Keyed by every ScorerName, so a scorer named but not registered is a
// compile error, not a silent fallback.
import { memoryScorer } from './memory-scorer.ts';
import { promptScorer } from './prompt-scorer.ts';
import type { Scorer, ScorerName } from './scorer.ts';

export const SCORERS: { readonly [N in ScorerName]: Scorer<N> } = {
  prompt: promptScorer,
  memory: memoryScorer,
};

// Each scorer's raw image score as results publish it (`scores`): its map maximum with the
// camera's ignored cells counted as 0, which is how `raw_score` is taken from the combined map
// (the detector zeroes those cells), so with one scorer the two are the same number.
import type { ScorerName, ScorerOutputs } from './scorer.ts';

/** The prompt scorer always runs: vision.onnx computes its map. */
export type RawScores = Partial<Record<ScorerName, number>> & { prompt: number };

export function rawScores(outputs: ScorerOutputs, ignore: Uint8Array | null): RawScores {
  const scores: Partial<Record<ScorerName, number>> = {};
  for (const [name, output] of Object.entries(outputs) as [ScorerName, ScorerOutputs[ScorerName]][]) {
    if (!output) continue;
    let max = -Infinity;
    for (let k = 0; k < output.map.length; k++) max = Math.max(max, ignore?.[k] ? 0 : output.map[k]);
    scores[name] = max;
  }
  if (scores.prompt === undefined) throw new Error('no prompt scorer output: the inference worker ran without text embeddings');
  return { ...scores, prompt: scores.prompt };
}

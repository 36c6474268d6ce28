// The prompt scorer: the anomaly head inside vision.onnx (DESIGN.md, "Anomaly head"), fed the
// prompt set's text embeddings [2,E] (normal, anomalous) and calibrated by the set's calibration.
import type { ScoreScale } from '../../tuning/calibration.ts';
import { textEmbedsOf } from '../../tuning/prompt-set.ts';
import { ok } from '../../util/result.ts';
import { batchRow, type Scorer, type ScorerState } from './scorer.ts';

/** The state for given text embeddings: a tuned set's, or the meta prompts' before the first tuning. */
export function promptScorerState(textEmbeds: Float32Array, calibration: ScoreScale): ScorerState {
  return { feeds: { text_embeds: { data: textEmbeds, dims: [2, textEmbeds.length / 2] } }, calibration };
}

export const promptScorer: Scorer<'prompt'> = {
  name: 'prompt',
  graph: 'vision',
  visionInputs: [],
  outputs: ['anomaly_map', 'anomaly_score'],
  async load({ set }) {
    return ok(promptScorerState(textEmbedsOf(set), set.calibration));
  },
  toMap(outputs, b) {
    return { map: batchRow(outputs.anomaly_map, b), rawScore: outputs.anomaly_score.data[b] };
  },
};

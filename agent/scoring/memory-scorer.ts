// The patch-memory scorer (DESIGN.md, "Scorers"): memory.onnx run on vision.onnx's patch_embeds
// with the prompt set's bank of normal patches (`memory_bank` [K,M,E], verified by the prompt
// store when it loaded the set), calibrated by the set's `memory.calibration`. A set without a
// memory (tuned before the memory existed, or on a bundle without memory.onnx) gives no state.
import { MEMORY_INPUTS, MEMORY_OUTPUTS } from '../../models/graphs/memory.ts';
import { packBank } from '../../tuning/memory-bank.ts';
import { ok } from '../../util/result.ts';
import { batchRow, type Scorer } from './scorer.ts';

export const memoryScorer: Scorer<'memory'> = {
  name: 'memory',
  graph: 'memory',
  visionInputs: [MEMORY_INPUTS.patches],
  outputs: [MEMORY_OUTPUTS.map, MEMORY_OUTPUTS.score],
  async load({ set, memory }) {
    if (!memory || !set.memory) return ok(null);
    const { data, rows } = packBank(memory);
    return ok({ feeds: { [MEMORY_INPUTS.bank]: { data, dims: [memory.layers.length, rows, memory.embedDim] } }, calibration: set.memory.calibration });
  },
  toMap(outputs, b) {
    return { map: batchRow(outputs[MEMORY_OUTPUTS.map], b), rawScore: outputs[MEMORY_OUTPUTS.score].data[b] };
  },
};

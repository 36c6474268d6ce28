// The seam every scorer plugs into (as Frigate's detector plugins do, discovered by their type
// key): a scorer names the graph outputs it reads, loads what it feeds the graph from a prompt set,
// turns a batch's outputs into one frame's map and raw score, and carries its own calibration.
// States are plain data because they cross to the inference worker by structured clone; the
// worker looks each scorer up by name in the table (scorers.ts) to feed and read the graph.
import type { ScoreScale } from '../../tuning/calibration.ts';
import type { LoadedPromptSet } from '../../tuning/prompt-store.ts';
import type { ScorerName } from '../../tuning/scorer-names.ts';
import type { Result } from '../../util/result.ts';

/** The type keys of the scorers (tuning/scorer-names.ts), as `detector.scorers` names them. */
export { SCORER_NAMES, type ScorerName } from '../../tuning/scorer-names.ts';

/**
 * The bundle graphs scorers run on: vision.onnx, and graphs run after it on some of its outputs
 * (keys of the bundle's `paths`).
 */
export type ScorerGraph = 'vision' | 'memory';

/** A float32 tensor as plain data. */
export interface TensorData {
  data: Float32Array;
  dims: number[];
}

/** What a scorer loaded from a prompt set. */
export interface ScorerState {
  /** Inputs of its graph it feeds, by input name. */
  feeds: Record<string, TensorData>;
  /** How its raw scores map onto 0..1, and its threshold there. */
  calibration: ScoreScale;
}

/** The states of the scorers in use; a scorer without state does not run. */
export type ScorerStates = Partial<Record<ScorerName, ScorerState>>;

/** One frame as a scorer sees it: a map at the model input size (row-major) and its raw score. */
export interface ScorerOutput {
  map: Float32Array;
  rawScore: number;
}

export type ScorerOutputs = Partial<Record<ScorerName, ScorerOutput>>;

/** Row `b` of a [B, ...] tensor, as its own buffer (it is transferred to the main thread). */
export function batchRow(t: TensorData, b: number): Float32Array {
  const row = t.data.length / t.dims[0];
  return t.data.slice(b * row, (b + 1) * row);
}

export interface Scorer<N extends ScorerName = ScorerName> {
  readonly name: N;
  /** The graph that computes its outputs. */
  readonly graph: ScorerGraph;
  /** vision.onnx outputs its graph takes, under the same input names (none for vision.onnx itself). */
  readonly visionInputs: readonly string[];
  /** The outputs of its graph it reads. */
  readonly outputs: readonly string[];
  /** Its state from a stored prompt set; null when the set carries nothing for it. */
  load(stored: LoadedPromptSet): Promise<Result<ScorerState | null>>;
  /** Frame `b` of a batch, from the outputs it named. */
  toMap(outputs: Record<string, TensorData>, b: number): ScorerOutput;
}

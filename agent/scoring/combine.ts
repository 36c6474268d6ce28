// How the maps of several scorers become the one map the detector judges (DESIGN.md, "Scorers").
//
// The rule (tuning/combine-scores.ts, which eval's `--scorer both` uses too): each scorer's map is
// first put on its own calibrated 0..1 scale (normaliseScore with that scorer's calibration,
// clipped, as the published score is), then the scaled maps are averaged pixel by pixel with equal
// weights (WinCLIP+ and PromptAD add their language and vision
// maps the same way once both are on one scale). Calibrating first is what keeps either scorer
// from dominating by scale: a prompt probability near 0.5 and a memory distance near 0.05 weigh the
// same when each sits at the same place between its own held-out normals and anomalies.
// The combined map is judged on the identity scale with the mean of the scorers' thresholds, so a
// pixel is above the combined threshold only where at least one scorer is above its own there,
// and a frame that every scorer passes everywhere passes combined.
//
// One scorer alone is not rescaled: its raw map and its own calibration go to the detector as
// they are, so `raw_score` stays that scorer's raw score, as before a second scorer existed.
import type { ScoreScale } from '../../tuning/calibration.ts';
import { combineMaps } from '../../tuning/combine-scores.ts';
import type { ScorerName, ScorerOutputs, ScorerStates } from './scorer.ts';

export interface CombinedMap {
  /** Row-major, at the model input size. */
  map: Float32Array;
  /** The scale the detector normalises `map` with and where its threshold lies. */
  scale: ScoreScale;
}

/**
 * Combines the scorers named in `use` that produced an output and have a state; when none of
 * them did, the prompt scorer's (always there: vision.onnx needs its text embeddings).
 */
export function combineScores(outputs: ScorerOutputs, states: ScorerStates, use: readonly ScorerName[]): CombinedMap {
  let parts = use.flatMap((name) => {
    const output = outputs[name];
    const state = states[name];
    return output && state ? [{ output, state }] : [];
  });
  if (!parts.length) parts = [{ output: required(outputs.prompt, 'output'), state: required(states.prompt, 'state') }];
  if (parts.length === 1) return { map: parts[0].output.map, scale: parts[0].state.calibration };
  return {
    map: combineMaps(parts.map((p) => ({ map: p.output.map, scale: p.state.calibration }))),
    scale: { min: 0, max: 1, threshold: mean(parts.map((p) => p.state.calibration.threshold)) },
  };
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no prompt scorer ${what} to fall back to`);
  return value;
}

// How the maps of several scorers become the one map the detector judges (DESIGN.md, "Scorers").
//
// The rule is tuning/combine-scores.ts (combineScorerMaps), which the tuning gate and eval's
// `--scorer both` call too, so what the gate judged is what the agent publishes: one scorer alone
// goes to the detector as it is (its raw map, its own calibration, so `raw_score` stays that
// scorer's raw score); several are each put on their calibrated 0..1 scale and averaged, judged on
// the identity scale with their thresholds averaged the same way. WinCLIP+ and PromptAD add their
// language and vision maps the same way once both are on one scale. This file only picks which
// scorers take part.
import { type CombinedMap, combineScorerMaps } from '../../tuning/combine-scores.ts';
import { scorersInUse } from '../../tuning/scorer-names.ts';
import type { ScorerName, ScorerOutputs, ScorerStates } from './scorer.ts';

/**
 * Combines the scorers named in `use` that produced an output and have a state; when none of
 * them did, the prompt scorer's (always there: vision.onnx needs its text embeddings).
 */
export function combineScores(outputs: ScorerOutputs, states: ScorerStates, use: readonly ScorerName[]): CombinedMap {
  const names = scorersInUse(use, (name) => outputs[name] !== undefined && states[name] !== undefined);
  return combineScorerMaps(
    names.map((name) => ({ map: required(outputs[name], name, 'output').map, scale: required(states[name], name, 'state').calibration })),
  );
}

function required<T>(value: T | undefined, name: ScorerName, what: string): T {
  if (value === undefined) throw new Error(`no ${name} scorer ${what} to fall back to`);
  return value;
}

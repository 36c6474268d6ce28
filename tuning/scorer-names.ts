// The type keys of the scorers, as `detector.scorers`, `linewatch tune --scorers` and a prompt
// set's `config.scorers` name them. Here rather than in agent/scoring/ because tuning judges the
// same scorers the agent combines and does not depend on the agent.
export const SCORER_NAMES = ['prompt', 'memory'] as const;
export type ScorerName = (typeof SCORER_NAMES)[number];

/**
 * The scorers that take part in a score: those named in `use` (in that order) that have what they
 * need (`has`: an output and a state in the agent, a measured calibration in tuning); when none
 * has, the prompt scorer alone (it always runs: vision.onnx needs its text embeddings). The agent
 * and the gate pick by this one rule, so they combine the same scorers.
 */
export function scorersInUse(use: readonly ScorerName[], has: (name: ScorerName) => boolean): ScorerName[] {
  const present = use.filter(has);
  return present.length ? present : ['prompt'];
}

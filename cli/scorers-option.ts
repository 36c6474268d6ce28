// `--scorers prompt,memory` of `linewatch tune`: the scorers its gate judges, in the order they
// are combined; the agent's re-tune passes its detector.scorers this way, so the gate judges
// what that agent publishes. The same rule as detector.scorers: a non-empty list of known
// scorers without repeats.
import { SCORER_NAMES, type ScorerName } from '../tuning/scorer-names.ts';
import { UsageError } from './args.ts';

export function scorersOption(value: string | undefined): ScorerName[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim());
  const known = names.every((n): n is ScorerName => (SCORER_NAMES as readonly string[]).includes(n));
  if (!known || new Set(names).size !== names.length) {
    throw new UsageError(`--scorers takes a comma-separated list of ${SCORER_NAMES.join(', ')} without repeats, not '${value}'`);
  }
  return names as ScorerName[];
}

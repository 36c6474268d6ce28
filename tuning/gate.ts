// The gate: a new prompt set replaces the current one only if it is at least as good on the
// held-out data. Both sets must be measured on the SAME held-out frames (score them with the
// current set too); metrics from different data are not comparable. The normal false-positive
// rate must come from normals the threshold was not calibrated on: on its own calibration
// normals a threshold meets the target by construction (tune-job.ts keeps them apart).

export interface GateMetrics {
  syntheticAuroc: number;
  normalFpr: number;
}

export interface GateOptions {
  /** How much lower the candidate's synthetic AUROC may be than the current set's. */
  epsilon: number;
  /** The highest normal false-positive rate accepted. */
  targetFpr: number;
}

export const defaultGateOptions: GateOptions = { epsilon: 0.01, targetFpr: 0.005 };

export interface GateDecision {
  accepted: boolean;
  /** Why the candidate was rejected (empty when accepted). */
  reasons: string[];
}

/** `current` null: there is no current set, and only the candidate's own checks apply. */
export function gate(candidate: GateMetrics, current: GateMetrics | null, input: Partial<GateOptions> = {}): GateDecision {
  const { epsilon, targetFpr } = { ...defaultGateOptions, ...input };
  const reasons: string[] = [];
  if (!Number.isFinite(candidate.syntheticAuroc) || !Number.isFinite(candidate.normalFpr)) {
    reasons.push(`candidate metrics are not finite (AUROC ${candidate.syntheticAuroc}, FPR ${candidate.normalFpr})`);
  }
  if (current && candidate.syntheticAuroc < current.syntheticAuroc - epsilon) {
    reasons.push(`synthetic AUROC ${fmt(candidate.syntheticAuroc)} is below the current ${fmt(current.syntheticAuroc)} by more than ${epsilon}`);
  }
  if (candidate.normalFpr > targetFpr + 1e-12) {
    reasons.push(`normal false-positive rate ${fmt(candidate.normalFpr)} exceeds the target ${targetFpr}`);
  }
  return { accepted: reasons.length === 0, reasons };
}

function fmt(x: number): string {
  return x.toFixed(4);
}

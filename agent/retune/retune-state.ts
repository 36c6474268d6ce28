// The `linewatch tune --progress json` protocol: how a re-tune job follows its tuner child.

/** One JSON line of `linewatch tune --progress json` on stdout. */
export type TuneProgressLine =
  | { type: 'progress'; phase: 'synthesis' | 'features' | 'steps' | 'calibration'; done: number; total: number }
  | { type: 'result'; id: string; path: string; status: 'accepted' | 'rejected'; metrics: Record<string, number>; reason?: string };

// Nearest-rank percentile (the value at floor(p * n) of the sorted values): what P/stats reports
// for inference times and what the benchmarks print, so the two read alike.

/** `p` in [0, 1]; 0 for no values (P/stats has nothing to report before the first frame). */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

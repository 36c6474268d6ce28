// Timing helpers shared by the benchmarks: a session opened as they all open it, and the best of
// N runs (the minimum is the least disturbed by a shared machine).
import ort from 'onnxruntime-node';

/**
 * Best of `runs` timed runs after `warmups` untimed ones; the minimum is the least disturbed by
 * the shared machine. A fresh session's first runs are slow (arena growth, page faults), more so
 * right after another session was released, hence more than one warm-up where runs are cheap.
 */
export async function bestMs(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, runs: number, warmups = 1): Promise<number> {
  return bestOf(() => session.run(feeds), runs, warmups);
}

/** bestMs for any piece of work (several sessions in a row). */
export async function bestOf(work: () => Promise<unknown>, runs: number, warmups = 1): Promise<number> {
  for (let i = 0; i < warmups; i++) await work();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await work();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export async function openSession(file: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
}

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

/** One round of `pairedRatios`: each side's time per unit of work, ms. */
export interface Pair {
  referenceMs: number;
  subjectMs: number;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * `reference` and `subject` timed alternately, `rounds` times, the reference repeated so that
 * both sides of a round take about as long. WHY: on a shared machine the speed drifts by tens of
 * per cent over seconds; a ratio of two bests taken minutes apart measures the drift as much as
 * the work, and a best of many short reference runs catches luckier moments than a best of a few
 * long subject runs. Adjacent equal-length runs see the same machine. The pause between the two
 * lets the idle side's onnxruntime threads stop spinning before the other runs.
 */
export async function pairedRuns(reference: () => Promise<unknown>, subject: () => Promise<unknown>, rounds: number, warmups = 1): Promise<Pair[]> {
  const timed = async (work: () => Promise<unknown>, times: number) => {
    await settle();
    const t0 = performance.now();
    for (let i = 0; i < times; i++) await work();
    return (performance.now() - t0) / times;
  };
  for (let i = 0; i < warmups; i++) await subject();
  const referenceOnce = Math.min(await timed(reference, 1), await timed(reference, 1));
  const subjectOnce = await timed(subject, 1);
  const repeat = Math.max(1, Math.round(subjectOnce / referenceOnce));
  const pairs: Pair[] = [];
  for (let r = 0; r < rounds; r++) pairs.push({ referenceMs: await timed(reference, repeat), subjectMs: await timed(subject, 1) });
  return pairs;
}

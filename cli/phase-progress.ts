// Progress of a run made of phases (synthesis, features, steps, ...): a bar per phase redrawn in
// place, one plain line per 10 % for logs, or JSON lines on stdout for a parent process (the
// agent's re-tune reads `{"type":"progress",...}` lines, see agent/contract/tune-progress.ts).
import { createProgress, type Progress } from '../util/progress.ts';

export type ProgressMode = 'bar' | 'plain' | 'json';
export const PROGRESS_MODES: readonly ProgressMode[] = ['bar', 'plain', 'json'];

export interface PhaseProgress {
  update(phase: string, done: number, total: number): void;
  /** Ends the open bar: finished, or cut short by a failure. */
  close(finished: boolean): void;
}

export function defaultProgressMode(): ProgressMode {
  return process.stderr.isTTY ? 'bar' : 'plain';
}

export function createPhaseProgress(mode: ProgressMode, labels: Record<string, string> = {}): PhaseProgress {
  if (mode === 'json') {
    return {
      update: (phase, done, total) => {
        process.stdout.write(`${JSON.stringify({ type: 'progress', phase, done, total })}\n`);
      },
      close: () => {},
    };
  }
  let open: { phase: string; progress: Progress } | null = null;
  return {
    update(phase, done, total) {
      if (open?.phase !== phase) {
        open?.progress.done();
        open = { phase, progress: createProgress((labels[phase] ?? phase).padEnd(12), total, 'items', { style: mode }) };
      }
      open.progress.update(done);
    },
    close(finished) {
      if (!open) return;
      const { progress } = open;
      open = null;
      if (finished) progress.done();
      else progress.fail();
    },
  };
}

// Progress reporting for long operations (downloads, model builds, tuning). On a terminal a bar
// redrawn in place; in logs and pipes one plain line per 10 % so the output stays readable.
export type ProgressUnit = 'bytes' | 'items';

export interface Progress {
  /** `done` is the absolute amount finished so far (not an increment). */
  update(done: number): void;
  /** Marks the operation finished and ends the line. */
  done(): void;
  /** Ends the line without claiming completion (the operation failed or stopped). */
  fail(): void;
}

export interface ProgressOptions {
  /** Where to draw; default stderr, so stdout stays free for command output. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Clock in ms, replaceable for tests. */
  now?: () => number;
  /** A bar redrawn in place, or a plain line per 10 %; default: a bar when the stream is a TTY. */
  style?: 'bar' | 'plain';
}

const BAR_WIDTH = 24;
const REDRAW_INTERVAL_MS = 100;
const PLAIN_STEP_PERCENT = 10;

export function createProgress(label: string, total: number, unit: ProgressUnit = 'items', options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = (options.style ?? (stream.isTTY === true ? 'bar' : 'plain')) === 'bar';
  const started = now();
  // Rate counts only what this run did: a resumed download starts with done > 0.
  let baseline: number | undefined;
  let current = 0;
  let lastDraw = -Infinity;
  let lastPlainStep = -1;
  let finished = false;

  const line = (): string => {
    const elapsedS = Math.max((now() - started) / 1000, 1e-3);
    const rate = (current - (baseline ?? 0)) / elapsedS;
    const amount = total > 0 ? `${formatAmount(current, unit)}/${formatAmount(total, unit)}` : formatAmount(current, unit);
    const speed = rate > 0 ? `${formatAmount(rate, unit)}/s` : '';
    const remaining = total > 0 && rate > 0 && current < total ? `ETA ${formatDuration((total - current) / rate)}` : '';
    const percent = total > 0 ? `${String(Math.floor((100 * current) / total)).padStart(3)}%` : '';
    const bar = total > 0 && tty ? `[${renderBar(current / total)}] ` : '';
    return [label, `${bar}${percent}`, amount, speed, finished ? `in ${formatDuration(elapsedS)}` : remaining].filter((part) => part !== '').join('  ');
  };

  const draw = (final: boolean) => {
    if (tty) {
      const text = line();
      const width = stream.columns && stream.columns > 10 ? stream.columns - 1 : text.length;
      stream.write(`\r${text.slice(0, width)}\x1b[K${final ? '\n' : ''}`);
      return;
    }
    stream.write(`${line()}\n`);
  };

  return {
    update(done: number) {
      if (finished) return;
      if (baseline === undefined) baseline = done;
      current = total > 0 ? Math.min(done, total) : done;
      if (tty) {
        const t = now();
        if (t - lastDraw >= REDRAW_INTERVAL_MS) {
          lastDraw = t;
          draw(false);
        }
        return;
      }
      if (total <= 0) return;
      const step = Math.floor((100 * current) / total / PLAIN_STEP_PERCENT);
      if (step > lastPlainStep && current < total) {
        lastPlainStep = step;
        draw(false);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      if (total > 0) current = total;
      draw(true);
    },
    fail() {
      if (finished) return;
      finished = true;
      if (tty && lastDraw > -Infinity) stream.write('\n');
    },
  };
}

function renderBar(fraction: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * BAR_WIDTH);
  return '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
}

export function formatAmount(value: number, unit: ProgressUnit): string {
  if (unit === 'items') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

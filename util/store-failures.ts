// What a store that must not stop the agent (the event outbox, the normal reservoir) does when a
// write fails, typically a full disk: drop what could not be stored, count it by reason, and say
// so once per episode (a run of failures), not once per message, so the log is readable and the
// disk is not filled further by log lines. The next write that succeeds ends the episode.
import { getSystemErrorMap } from 'node:util';
import type { Logger } from './log.ts';

/** The errno code of a failed write ("ENOSPC") and its text ("no space left on device"). */
export function describeWriteError(e: unknown): { reason: string; text: string } {
  const x = e as NodeJS.ErrnoException;
  const known = typeof x?.errno === 'number' ? getSystemErrorMap().get(x.errno) : undefined;
  if (typeof x?.code === 'string') return { reason: x.code, text: known?.[1] ?? x.message };
  return { reason: 'EUNKNOWN', text: e instanceof Error ? e.message : String(e) };
}

export interface StoreFailures {
  /** What was dropped since the store was opened, by reason. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Counts `count` items dropped for `reason` without a write error (evicted, refused). */
  drop(reason: string, count?: number): void;
  /** A write failed and its item is dropped; logs on the first failure of an episode. Returns the reason. */
  failed(e: unknown): { reason: string; text: string };
  /** A write succeeded: ends an episode (one "resumed" line). */
  stored(): void;
}

export interface StoreFailuresOptions {
  log: Logger;
  /** What is not stored, for the log line: "events", "normal frames". */
  what: string;
  onDropped?: (reason: string, count: number) => void;
}

export function createStoreFailures({ log, what, onDropped }: StoreFailuresOptions): StoreFailures {
  const dropped: Record<string, number> = {};
  let episode: { reason: string; dropped: number } | null = null;
  const drop = (reason: string, count = 1) => {
    dropped[reason] = (dropped[reason] ?? 0) + count;
    onDropped?.(reason, count);
  };
  return {
    dropped,
    drop,
    failed(e) {
      const described = describeWriteError(e);
      drop(described.reason);
      if (episode) episode.dropped++;
      else {
        episode = { reason: described.reason, dropped: 1 };
        log.error(`cannot store ${what}: ${described.reason} (${described.text}) — dropping until space returns`);
      }
      return described;
    },
    stored() {
      if (!episode) return;
      log.info(`storing ${what} again: resumed`, { dropped: episode.dropped, reason: episode.reason });
      episode = null;
    },
  };
}

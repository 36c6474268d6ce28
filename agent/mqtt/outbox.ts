import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { createLogger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';
import { createStoreFailures } from '../../util/store-failures.ts';
import { decodeOutboxEntry, encodeOutboxEntry, type OutboxMessage } from './outbox-entry.ts';

const log = createLogger('outbox');

/** Hands one message to the broker; resolves on PUBACK. */
export type Deliver = (topic: string, payload: Buffer) => Promise<void>;

export interface OutboxOptions {
  /** `<data_dir>/outbox`; created when missing. */
  dir: string;
  /** `outbox_max_mb` in bytes: past it the oldest waiting messages are evicted. */
  maxBytes: number;
  /** Messages handed to the MQTT client and not yet acknowledged; bounds what sits in its memory. */
  maxInFlight?: number;
  /** Told how many messages were just evicted (for a Prometheus counter). */
  onEvicted?: (count: number) => void;
  /**
   * Told about every message lost, by reason: the errno code of a write that failed (ENOSPC...),
   * `evicted` (over the byte budget, also told to `onEvicted`), `refused` (a negative PUBACK).
   */
  onDropped?: (reason: string, count: number) => void;
}

/**
 * A bounded, disk-backed queue of QoS 1 messages (events). Each message is one file
 * `<16-digit sequence>.msg`, written atomically (fsync) before `enqueue` resolves, delivered in
 * sequence order while `resume`d, and deleted only after the broker acknowledged it. A restart
 * picks the files up again, so delivery is at least once across outages and crashes.
 */
export interface Outbox {
  /** Messages on disk that the broker has not acknowledged yet. */
  readonly depth: number;
  readonly bytes: number;
  /** Messages evicted since the outbox was opened. */
  readonly evicted: number;
  /** Messages lost since the outbox was opened, by reason (see `OutboxOptions.onDropped`). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Resolves once the message is on disk (or was evicted because it alone exceeds the budget). */
  enqueue(topic: string, payload: Buffer): Promise<Result<void>>;
  /** The link is up: deliver through `deliver`, in order. */
  resume(deliver: Deliver): void;
  /** The link is down: hand out nothing more (what is in flight stays with the MQTT client). */
  pause(): void;
  /** Resolves with the depth left once the outbox is empty or `timeoutMs` passed (graceful stop). */
  drain(timeoutMs: number): Promise<number>;
  /** Pauses and waits for writes under way. */
  close(): Promise<void>;
}

interface Entry {
  seq: number;
  file: string;
  size: number;
  /** Being read, in flight or being evicted: neither the pump nor eviction may take it. */
  claimed: boolean;
}

const RETRY_AFTER_FAILURE_MS = 1000;
const ENTRY_NAME = /^(\d{16})\.msg$/;
const entryName = (seq: number) => `${String(seq).padStart(16, '0')}.msg`;

/** Reads what a previous run left; damaged entries are logged and deleted so they cannot block the queue. */
async function loadEntries(dir: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    if (name.endsWith('.tmp')) {
      // writeFileAtomic's temp file from a run that died mid-write: the message never became durable.
      await fs.rm(file, { force: true });
      continue;
    }
    const match = ENTRY_NAME.exec(name);
    if (!match) continue;
    const bytes = await fs.readFile(file);
    const decoded = decodeOutboxEntry(bytes);
    if (!decoded.ok) {
      log.warn('skipping a damaged outbox entry', { file, reason: decoded.error });
      await fs.rm(file, { force: true });
      continue;
    }
    entries.push({ seq: Number(match[1]), file, size: bytes.length, claimed: false });
  }
  return entries;
}

export async function openOutbox(opts: OutboxOptions): Promise<Outbox> {
  await fs.mkdir(opts.dir, { recursive: true });
  const entries = await loadEntries(opts.dir);
  const maxInFlight = opts.maxInFlight ?? 8;
  let bytes = entries.reduce((sum, e) => sum + e.size, 0);
  let nextSeq = entries.length ? entries[entries.length - 1].seq + 1 : 1;
  let evicted = 0;
  let inFlight = 0;
  let deliver: Deliver | null = null;
  let pumping = false;
  let writes: Promise<unknown> = Promise.resolve();
  const emptyWaiters = new Set<() => void>();
  const failures = createStoreFailures({ log, what: 'events', onDropped: opts.onDropped });
  if (entries.length) log.info('outbox has messages from a previous run', { depth: entries.length, bytes });

  /** Deletes the file first, so an empty outbox (`drain`) also means an empty directory. */
  const remove = async (e: Entry) => {
    await fs.rm(e.file, { force: true });
    const i = entries.indexOf(e);
    if (i < 0) return;
    entries.splice(i, 1);
    bytes -= e.size;
    if (entries.length === 0) for (const w of emptyWaiters) w();
  };

  /** Makes room for `size` more bytes by evicting the oldest messages nobody is working on. */
  const evictFor = async (size: number): Promise<number> => {
    let count = 0;
    while (bytes + size > opts.maxBytes) {
      const oldest = entries.find((e) => !e.claimed);
      if (!oldest) break;
      oldest.claimed = true;
      await remove(oldest);
      count++;
    }
    return count;
  };

  const countEvicted = (count: number) => {
    if (count === 0) return;
    evicted += count;
    log.warn('outbox full: evicted the oldest messages', { count, evicted_total: evicted, max_bytes: opts.maxBytes });
    opts.onEvicted?.(count);
    failures.drop('evicted', count);
  };

  const settle = async (e: Entry, outcome: Error | null) => {
    const code = (outcome as { code?: unknown } | null)?.code;
    const finished = outcome === null || typeof code === 'number';
    if (outcome !== null && finished) {
      // A negative PUBACK (MQTT 5: not authorised, bad topic...) will not change on retry; keeping
      // the message would block every later one.
      log.error('the broker refused an outbox message; dropping it', { file: e.file, reason: outcome.message });
      failures.drop('refused');
    }
    if (finished) await remove(e);
    else e.claimed = false;
    inFlight--;
    if (finished) {
      void pump();
    } else {
      // The connection went away under the message: it stays queued. Retrying at once would spin
      // against a client that fails every publish, so wait a moment (or for the next resume).
      setTimeout(() => void pump(), RETRY_AFTER_FAILURE_MS).unref();
    }
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (deliver && inFlight < maxInFlight) {
        const e = entries.find((x) => !x.claimed);
        if (!e) break;
        const send = deliver;
        e.claimed = true;
        const decoded = await fs.readFile(e.file).then(decodeOutboxEntry, (x: Error) => err<OutboxMessage>(x.message));
        if (!decoded.ok) {
          log.warn('skipping a damaged outbox entry', { file: e.file, reason: decoded.error });
          await remove(e);
          continue;
        }
        inFlight++;
        send(decoded.value.topic, decoded.value.payload).then(
          () => settle(e, null),
          (x: Error) => settle(e, x),
        );
      }
    } finally {
      pumping = false;
    }
  };

  const enqueue = (topic: string, payload: Buffer): Promise<Result<void>> => {
    const seq = nextSeq++;
    const encoded = encodeOutboxEntry({ topic, payload });
    // Writes are chained so files appear, and are delivered, in sequence order.
    const done = writes.then(async (): Promise<Result<void>> => {
      if (encoded.length > opts.maxBytes) {
        countEvicted(1);
        return err(`an outbox message of ${encoded.length} bytes exceeds outbox_max_mb on its own`);
      }
      countEvicted(await evictFor(encoded.length));
      const file = path.join(opts.dir, entryName(seq));
      try {
        await writeFileAtomic(file, encoded);
      } catch (x) {
        const { reason, text } = failures.failed(x);
        return err(`cannot write outbox entry ${file}: ${reason} (${text}); the message is dropped`);
      }
      failures.stored();
      entries.push({ seq, file, size: encoded.length, claimed: false });
      bytes += encoded.length;
      void pump();
      return ok(undefined);
    });
    writes = done;
    return done;
  };

  const drain = (timeoutMs: number): Promise<number> =>
    new Promise((resolve) => {
      if (entries.length === 0) return resolve(0);
      const done = () => {
        clearTimeout(timer);
        emptyWaiters.delete(done);
        resolve(entries.length);
      };
      const timer = setTimeout(done, timeoutMs);
      emptyWaiters.add(done);
    });

  return {
    get depth() {
      return entries.length;
    },
    get bytes() {
      return bytes;
    },
    get evicted() {
      return evicted;
    },
    get dropped() {
      return failures.dropped;
    },
    enqueue,
    resume(d) {
      deliver = d;
      void pump();
    },
    pause() {
      deliver = null;
    },
    drain,
    async close() {
      deliver = null;
      await writes;
    },
  };
}

// The last events of one camera, as the live page lists them: open or closed, start, duration,
// max score and a thumbnail of the frame at the event's peak. In memory only and bounded (the
// durable record of events is the MQTT outbox); the oldest event goes first.
//
// The peak frame is known before the event is: with `event_open_frames` > 1 the highest frame of
// the opening run may come before the frame that opens the event, so the run's peak frame is held
// (one frame, by reference) until the run opens an event or a newer run replaces it. A thumbnail
// is encoded once per new peak; peaks that arrive while one is being encoded collapse into the newest.
import type { Frame } from '../camera/frame.ts';
import type { DetectorEvent } from './events.ts';

/** Events kept per camera. */
export const EVENTS_KEPT = 20;

/** One event of `/api/state` (per camera). */
export interface RecentEvent {
  id: string;
  open: boolean;
  start_ts: number;
  /** The last anomalous frame of a closed event; null while open. */
  end_ts: number | null;
  /** end_ts - start_ts once closed; the time since the start while open. */
  duration_ms: number;
  max_score: number;
  /** ts of the frame the thumbnail shows (it changes with a higher peak); null until one is encoded. */
  thumbnail_ts: number | null;
}

interface Entry {
  id: string;
  start_ts: number;
  end_ts: number | null;
  open: boolean;
  max_score: number;
  thumbnail: { ts: number; jpeg: Buffer } | null;
  /** The newest peak frame not encoded yet. */
  pending: Frame | null;
  /** Settles when no encoding of this entry is under way. */
  encoded: Promise<void>;
}

export interface RecentEventsOptions {
  encode: (frame: Frame) => Promise<Buffer>;
  /** A thumbnail that could not be encoded: the event stays listed with the previous one, or none. */
  onEncodeError: (e: Error) => void;
  keep?: number;
  now?: () => number;
}

export class RecentEvents {
  /** Oldest first. */
  private readonly entries: Entry[] = [];
  private openEntry: Entry | null = null;
  /** The peak frame of the anomalous run that has not opened an event (yet). */
  private runPeak: Frame | null = null;
  private readonly keep: number;
  private readonly now: () => number;

  constructor(private readonly options: RecentEventsOptions) {
    this.keep = options.keep ?? EVENTS_KEPT;
    this.now = options.now ?? Date.now;
  }

  /** `frame` raised the anomalous run's max score to `score` (EventTracker.lastFrameWasPeak). */
  peak(frame: Frame, score: number): void {
    const entry = this.openEntry;
    if (!entry) {
      this.runPeak = frame;
      return;
    }
    // Update messages are rate-limited; the list shows the peak as soon as it is reached.
    entry.max_score = Math.max(entry.max_score, score);
    this.thumbnailOf(entry, frame);
  }

  /** An event message of the detector (new, update, end), as it is published. */
  record(e: DetectorEvent): void {
    if (e.type === 'new') {
      this.opened(e);
      return;
    }
    const entry = this.entries.find((x) => x.id === e.id);
    if (!entry) return;
    entry.max_score = Math.max(entry.max_score, e.max_score);
    if (e.type !== 'end') return;
    entry.open = false;
    entry.end_ts = e.end_ts;
    if (this.openEntry === entry) this.openEntry = null;
  }

  /** Newest first. */
  list(): RecentEvent[] {
    const now = this.now();
    return this.entries
      .map((e) => ({
        id: e.id,
        open: e.open,
        start_ts: e.start_ts,
        end_ts: e.end_ts,
        duration_ms: (e.end_ts ?? now) - e.start_ts,
        max_score: e.max_score,
        thumbnail_ts: e.thumbnail?.ts ?? null,
      }))
      .reverse();
  }

  /** The JPEG of event `id`'s peak (waiting for an encoding under way), or null: unknown id, or none encoded. */
  async thumbnail(id: string): Promise<Buffer | null> {
    const entry = this.entries.find((x) => x.id === id);
    if (!entry) return null;
    await entry.encoded;
    return entry.thumbnail?.jpeg ?? null;
  }

  private opened(e: DetectorEvent): void {
    const entry: Entry = {
      id: e.id,
      start_ts: e.start_ts,
      end_ts: null,
      open: true,
      max_score: e.max_score,
      thumbnail: null,
      pending: null,
      encoded: Promise.resolve(),
    };
    this.entries.push(entry);
    if (this.entries.length > this.keep) this.entries.shift();
    this.openEntry = entry;
    if (this.runPeak) this.thumbnailOf(entry, this.runPeak);
    this.runPeak = null;
  }

  private thumbnailOf(entry: Entry, frame: Frame): void {
    const idle = entry.pending === null;
    entry.pending = frame;
    if (idle) entry.encoded = entry.encoded.then(() => this.encodePending(entry));
  }

  private async encodePending(entry: Entry): Promise<void> {
    while (entry.pending) {
      const frame = entry.pending;
      try {
        const jpeg = await this.options.encode(frame);
        entry.thumbnail = { ts: frame.ts, jpeg };
      } catch (e) {
        this.options.onEncodeError(e as Error);
      }
      if (entry.pending === frame) entry.pending = null;
    }
  }
}

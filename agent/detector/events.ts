// Per-camera anomaly events with debouncing. A run of `openFrames` consecutive anomalous frames
// opens an event (`new`); while open, a higher max score is reported as `update`, at most one per
// `updateIntervalMs` (a suppressed rise goes out with the next frame after the interval); `closeFrames`
// consecutive normal frames close it (`end`). Normal frames inside an open event that do not
// reach `closeFrames` neither end it nor count as event frames.
//
// Event fields: start_ts = first anomalous frame of the opening run, end_ts = last anomalous
// frame (on `end`; null before), frames = anomalous frames so far, max_score = highest normalised
// score, bbox = the anomalous region (camera pixels) of the frame that reached max_score.
// Times are the frames' ts (ms since the epoch), so rate limits follow the stream, not the clock.
import { randomUUID } from 'node:crypto';
import type { Box } from './geometry.ts';

/** An event as the detector sees it; the publisher maps it to the contract's `P/<cam>/events` payload. */
export interface DetectorEvent {
  type: 'new' | 'update' | 'end';
  id: string;
  camera: string;
  start_ts: number;
  end_ts: number | null;
  max_score: number;
  frames: number;
  bbox: Box | null;
}

export interface Observation {
  ts: number;
  anomalous: boolean;
  score: number;
  bbox: Box | null;
}

export interface EventRules {
  openFrames: number;
  closeFrames: number;
  updateIntervalMs: number;
}

interface Run {
  startTs: number;
  lastAnomalousTs: number;
  frames: number;
  maxScore: number;
  bbox: Box | null;
}

export class EventTracker {
  /** The anomalous run being counted towards opening, or the open event's state. */
  private run: Run | null = null;
  private openId: string | null = null;
  private normalStreak = 0;
  private lastReportTs = 0;
  private reportedMax = 0;
  private peaked = false;

  constructor(
    readonly camera: string,
    private readonly rules: EventRules,
    private readonly newId: () => string = randomUUID,
  ) {}

  get isOpen(): boolean {
    return this.openId !== null;
  }

  /** True when the frame last observed raised the run's max score: it is the peak of the event (to be) for now. */
  get lastFrameWasPeak(): boolean {
    return this.peaked;
  }

  /** Feeds one frame's verdict; returns the event message it causes, if any. */
  observe(o: Observation): DetectorEvent | null {
    this.peaked = false;
    if (o.anomalous) {
      this.normalStreak = 0;
      const run = this.extendRun(o);
      if (this.openId !== null) return this.updateIfDue(o.ts);
      if (run.frames < this.rules.openFrames) return null;
      this.openId = this.newId();
      return this.report('new', o.ts);
    }
    if (this.openId === null) {
      this.run = null;
      return null;
    }
    if (++this.normalStreak >= this.rules.closeFrames) return this.end();
    return this.updateIfDue(o.ts);
  }

  /** Ends the open event now (camera gone offline, shutdown); null when none is open. */
  close(): DetectorEvent | null {
    return this.openId === null ? null : this.end();
  }

  private extendRun(o: Observation): Run {
    const run = (this.run ??= { startTs: o.ts, lastAnomalousTs: o.ts, frames: 0, maxScore: -Infinity, bbox: null });
    run.frames++;
    run.lastAnomalousTs = o.ts;
    if (o.score > run.maxScore) {
      run.maxScore = o.score;
      run.bbox = o.bbox;
      this.peaked = true;
    }
    return run;
  }

  private updateIfDue(ts: number): DetectorEvent | null {
    const due = ts - this.lastReportTs >= this.rules.updateIntervalMs;
    return due && this.run!.maxScore > this.reportedMax ? this.report('update', ts) : null;
  }

  private end(): DetectorEvent {
    const event = this.message('end', this.run!.lastAnomalousTs);
    this.run = null;
    this.openId = null;
    this.normalStreak = 0;
    return event;
  }

  private report(type: 'new' | 'update', ts: number): DetectorEvent {
    this.lastReportTs = ts;
    this.reportedMax = this.run!.maxScore;
    return this.message(type, null);
  }

  private message(type: DetectorEvent['type'], endTs: number | null): DetectorEvent {
    const run = this.run!;
    return {
      type,
      id: this.openId!,
      camera: this.camera,
      start_ts: run.startTs,
      end_ts: endTs,
      max_score: run.maxScore,
      frames: run.frames,
      bbox: run.bbox,
    };
  }
}

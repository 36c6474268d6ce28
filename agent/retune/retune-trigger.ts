// Every way a re-tune starts (a command from MQTT or the page, the cron schedule) goes through one
// gate: one job at a time (the runner) and `retune.min_interval_s` between the end of one job and
// the start of the next. The state of each job goes to P/retune/state and the metrics; a job that
// ends `done` has its prompt set applied.
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';
import type { RetuneStatePayload } from '../contract/payloads.ts';
import type { AgentMetrics } from '../stats/prometheus-metrics.ts';
import type { RetuneRequest, RetuneRunner } from './retune-job.ts';

export interface RetuneTriggerOptions {
  runner: RetuneRunner;
  minIntervalS: number;
  metrics: AgentMetrics;
  log: Logger;
  /** Where each state change goes (P/retune/state). */
  publish: (s: RetuneStatePayload) => void;
  /** Applies the prompt set a `done` job activated. */
  applyNewPrompts: () => Promise<unknown>;
}

export class RetuneTrigger {
  private lastEnd = 0;
  private lastOutcome: RetuneStatePayload['state'] = 'idle';
  private task: ScheduledTask | null = null;

  constructor(private readonly o: RetuneTriggerOptions) {}

  /** The runner reports every state here (RetuneJobOptions.onState). */
  onState(s: RetuneStatePayload): void {
    const { metrics, log } = this.o;
    metrics.setRetuneState(s.state);
    this.o.publish(s);
    if (s.state === 'done' || s.state === 'rejected' || s.state === 'failed') {
      metrics.retunes.inc({ outcome: s.state });
      this.lastEnd = Date.now();
      this.lastOutcome = s.state;
      if (s.message) log.info(`re-tune ${s.state}: ${s.message}`);
    }
    if (s.state === 'done') void this.o.applyNewPrompts().catch((e) => log.error(`could not apply the new prompt set: ${(e as Error).message}`));
  }

  /** The last finished job, for P/stats; null before the first. */
  get last(): { ts: number; outcome: RetuneStatePayload['state'] } | null {
    return this.lastEnd ? { ts: this.lastEnd, outcome: this.lastOutcome } : null;
  }

  start(req: RetuneRequest): Result<{ job_id: string }> {
    const since = (Date.now() - this.lastEnd) / 1000;
    if (this.lastEnd && since < this.o.minIntervalS) {
      return err(`the last re-tune ended ${Math.round(since)} s ago; retune.min_interval_s is ${this.o.minIntervalS} s`);
    }
    const started = this.o.runner.start(req);
    return started.ok ? ok({ job_id: started.value.jobId }) : started;
  }

  /** `retune.cron`: a scheduled job is skipped (with a log line) when the gate refuses it. */
  schedule(expression: string): void {
    this.task = cron.schedule(
      expression,
      () => {
        const started = this.start({ trigger: 'cron' });
        if (!started.ok) this.o.log.info(`scheduled re-tune skipped: ${started.error}`);
      },
      { noOverlap: true },
    );
  }

  stop(): void {
    this.task?.stop();
  }
}

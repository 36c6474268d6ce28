// P/stats (and the `status` command's reply): per-camera rates, inference latency, the provider and
// prompt set in force, the outbox and memory. Each tick also moves the Prometheus counters that
// follow the same numbers, so both views agree.

import { percentile } from '../../util/percentile.ts';
import type { Cameras } from '../camera/cameras.ts';
import type { StatsPayload } from '../contract/payloads.ts';
import type { Engine } from '../engine/engine.ts';
import type { InferencePipeline } from '../engine/pipeline.ts';
import type { ActiveModel } from '../model/active-model.ts';
import type { MqttLink } from '../mqtt/mqtt-link.ts';
import type { RetuneTrigger } from '../retune/retune-trigger.ts';
import type { AgentMetrics } from './prometheus-metrics.ts';

export const STATS_INTERVAL_MS = 10_000;

export interface DeviceStatsSources {
  cameras: Cameras;
  pipeline: InferencePipeline;
  engine: Engine;
  model: ActiveModel;
  retune: RetuneTrigger;
  metrics: AgentMetrics;
  link: () => MqttLink | null;
}

export class DeviceStats {
  /** Counters at the previous tick, for rates and Prometheus increments. */
  private readonly lastProcessed = new Map<string, number>();
  private readonly lastSkipped = new Map<string, number>();

  constructor(private readonly s: DeviceStatsSources) {}

  current(): StatsPayload {
    const { cameras, pipeline, engine, model, retune } = this.s;
    const outbox = this.s.link()?.outbox;
    const mem = process.memoryUsage();
    const window = STATS_INTERVAL_MS / 1000;
    return {
      ts: Date.now(),
      cameras: Object.fromEntries(
        cameras.all().map((c) => {
          const fps = (c.processed - (this.lastProcessed.get(c.name) ?? 0)) / window;
          return [c.name, { fps: Math.round(fps * 100) / 100, processed: c.processed, skipped: pipeline.skipped(c.name) }];
        }),
      ),
      inference_ms: { p50: percentile(pipeline.inferMs, 0.5), p95: percentile(pipeline.inferMs, 0.95) },
      provider: engine.provider,
      prompt_set: model.promptSetId,
      last_retune: retune.last,
      outbox: { depth: outbox?.depth ?? 0, bytes: outbox?.bytes ?? 0, evicted: outbox?.evicted ?? 0, dropped: { ...outbox?.dropped } },
      memory: { rss_mb: Math.round(mem.rss / 2 ** 20), heap_mb: Math.round(mem.heapUsed / 2 ** 20) },
    };
  }

  /** One tick: the payload for P/stats, with the Prometheus counters moved on. */
  tick(): StatsPayload {
    const stats = this.current();
    const { cameras, pipeline, metrics } = this.s;
    for (const c of cameras.all()) {
      const skipped = pipeline.skipped(c.name);
      metrics.framesSkipped.inc({ camera: c.name }, skipped - (this.lastSkipped.get(c.name) ?? 0));
      this.lastSkipped.set(c.name, skipped);
      this.lastProcessed.set(c.name, c.processed);
    }
    metrics.outboxDepth.set(stats.outbox.depth);
    return stats;
  }
}

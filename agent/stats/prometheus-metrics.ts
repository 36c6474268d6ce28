import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { CameraState, RETUNE_STATES, type RetuneStateName } from '../contract/payloads.ts';

/** The values of the contract's camera state, read from its schema so the two cannot drift apart. */
const CAMERA_STATES = CameraState.anyOf.map((s) => s.const);
/** How a re-tuning job can end: the states after which no job runs. */
const RETUNE_OUTCOMES = ['done', 'rejected', 'failed'] as const satisfies readonly RetuneStateName[];

/**
 * Every Prometheus metric of the agent, in one registry of its own (so two agents in one test
 * process do not collide). All names start with `linewatch_`; the agent sets them, `/metrics` reads them.
 */
export interface AgentMetrics {
  readonly registry: Registry;
  readonly framesProcessed: Counter<'camera'>;
  /** Frames dropped because inference was behind (latest frame wins). */
  readonly framesSkipped: Counter<'camera'>;
  readonly inferenceLatency: Histogram<'camera'>;
  /** Latest normalised anomaly score, 0..1. */
  readonly score: Gauge<'camera'>;
  /** The threshold the latest score was compared with (normalised scale, after sensitivity). */
  readonly threshold: Gauge<'camera'>;
  readonly events: Counter<'camera' | 'type'>;
  readonly outboxDepth: Gauge;
  readonly outboxEvicted: Counter;
  /** Events lost, by reason: the errno code of a failed write (ENOSPC), `evicted` (same as outboxEvicted), `refused`. */
  readonly outboxDropped: Counter<'reason'>;
  /** Normal frames the reservoir could not store, by the errno code of the failed write. */
  readonly reservoirDropped: Counter<'reason'>;
  readonly mqttConnected: Gauge;
  /** Finished re-tuning jobs by outcome; every outcome is exported from the start, at 0. */
  readonly retunes: Counter<'outcome'>;
  /** 1 for the current re-tuning state, 0 for the others. */
  setRetuneState(state: RetuneStateName): void;
  /** 1 for the camera's current state (online, offline, disabled), 0 for the others. */
  setCameraState(camera: string, state: CameraState): void;
}

export interface AgentMetricsOptions {
  /** Node process metrics (memory, event-loop lag, GC) under the same prefix; on by default. */
  processMetrics?: boolean;
}

export function createAgentMetrics(opts: AgentMetricsOptions = {}): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'linewatch_' });

  const retuneState = new Gauge({
    name: 'linewatch_retune_state',
    help: 'Re-tuning job state: 1 for the current state',
    labelNames: ['state'],
    registers,
  });
  const setRetuneState = (state: RetuneStateName) => {
    for (const s of RETUNE_STATES) retuneState.set({ state: s }, s === state ? 1 : 0);
  };
  setRetuneState('idle');

  const cameraState = new Gauge({
    name: 'linewatch_camera_state',
    help: 'Camera state (online, offline, disabled): 1 for the current state',
    labelNames: ['camera', 'state'],
    registers,
  });
  const setCameraState = (camera: string, state: CameraState) => {
    for (const s of CAMERA_STATES) cameraState.set({ camera, state: s }, s === state ? 1 : 0);
  };

  // A counter that appears only at its first increment hides that increment from increase():
  // the alert on a rejected re-tune would miss the first rejection.
  const retunes = new Counter({
    name: 'linewatch_retunes_total',
    help: 'Finished re-tuning jobs by outcome (done, rejected, failed)',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of RETUNE_OUTCOMES) retunes.inc({ outcome }, 0);

  return {
    registry,
    framesProcessed: new Counter({ name: 'linewatch_frames_processed_total', help: 'Frames scored', labelNames: ['camera'], registers }),
    framesSkipped: new Counter({
      name: 'linewatch_frames_skipped_total',
      help: 'Frames dropped because inference was behind',
      labelNames: ['camera'],
      registers,
    }),
    inferenceLatency: new Histogram({
      name: 'linewatch_inference_latency_seconds',
      help: 'Model time per frame',
      labelNames: ['camera'],
      buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2],
      registers,
    }),
    score: new Gauge({ name: 'linewatch_anomaly_score', help: 'Latest normalised anomaly score (0..1)', labelNames: ['camera'], registers }),
    threshold: new Gauge({
      name: 'linewatch_anomaly_threshold',
      help: 'Threshold the latest score was compared with (0..1, after sensitivity)',
      labelNames: ['camera'],
      registers,
    }),
    events: new Counter({ name: 'linewatch_events_total', help: 'Anomaly events by type (new, update, end)', labelNames: ['camera', 'type'], registers }),
    outboxDepth: new Gauge({ name: 'linewatch_outbox_depth', help: 'Events on disk waiting for the broker', registers }),
    outboxEvicted: new Counter({ name: 'linewatch_outbox_evicted_total', help: 'Events evicted from a full outbox', registers }),
    outboxDropped: new Counter({
      name: 'linewatch_outbox_dropped_total',
      help: 'Events lost: reason is the errno code of a failed write (ENOSPC...), evicted (outbox_max_mb) or refused (negative PUBACK)',
      labelNames: ['reason'],
      registers,
    }),
    reservoirDropped: new Counter({
      name: 'linewatch_reservoir_dropped_total',
      help: 'Normal frames the re-tune reservoir could not store, by errno code',
      labelNames: ['reason'],
      registers,
    }),
    mqttConnected: new Gauge({ name: 'linewatch_mqtt_connected', help: '1 while connected to the MQTT broker', registers }),
    retunes,
    setRetuneState,
    setCameraState,
  };
}

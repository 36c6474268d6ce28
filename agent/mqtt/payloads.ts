// The JSON payloads of the MQTT contract (DESIGN.md, "MQTT contract"). Times are milliseconds
// since the Unix epoch; images and boxes are in camera pixel coordinates.

export type CameraState = 'online' | 'offline' | 'disabled';

/** `P/<cam>/status`, retained. */
export interface CameraStatusPayload {
  state: CameraState;
  /** Why it is offline or disabled ("no frame for 10 s", "disabled by command"). */
  reason?: string;
  ts: number;
}

/** `P/<cam>/result`, QoS 0, rate-limited. */
export interface ResultPayload {
  ts: number;
  frame_id: number;
  /** Normalised 0..1 against the prompt set's calibration. */
  score: number;
  raw_score: number;
  anomalous: boolean;
  threshold: number;
  prompt_set: string;
  latency_ms: { pre: number; infer: number; post: number };
}

export interface BoundingBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** `P/<cam>/events`, QoS 1 through the outbox. */
export interface EventPayload {
  type: 'new' | 'update' | 'end';
  id: string;
  camera: string;
  start_ts: number;
  /** null while the event is open. */
  end_ts: number | null;
  max_score: number;
  frames: number;
  bbox: BoundingBox | null;
}

/** `P/stats`, QoS 0. */
export interface StatsPayload {
  ts: number;
  cameras: Record<string, { fps: number; processed: number; skipped: number }>;
  inference_ms: { p50: number; p95: number };
  provider: string;
  prompt_set: string | null;
  last_retune: { ts: number; outcome: RetuneStateName } | null;
  outbox: { depth: number; bytes: number; evicted: number; dropped: Record<string, number> };
  memory: { rss_mb: number; heap_mb: number };
}

export const RETUNE_STATES = ['idle', 'collecting', 'tuning', 'validating', 'done', 'rejected', 'failed'] as const;
export type RetuneStateName = (typeof RETUNE_STATES)[number];

/** `P/retune/state`, QoS 1, retained. */
export interface RetuneStatePayload {
  state: RetuneStateName;
  /** 0..1 over the whole job. */
  progress: number;
  /** Which camera's normal frames the job learns from; absent = all cameras. */
  camera?: string;
  job_id?: string;
  trigger?: 'cron' | 'command' | 'http' | 'cli';
  /** The prompt set the job produced (accepted or rejected). */
  prompt_set?: string;
  /** Gate metrics, losses: whatever explains the outcome. */
  metrics?: Record<string, number>;
  message?: string;
  ts: number;
}

import { redactDeep } from '../../util/redact.ts';
import type { BoundingBox, CameraState, ResultPayload, RetuneStatePayload } from '../contract/payloads.ts';

/** What the live page shows of one camera. */
export interface CameraSnapshot {
  name: string;
  status: CameraState;
  status_reason?: string;
  /** Changes with every new frame; the page reloads the images when it does. null before the first. */
  frame_id: number | null;
  score: number | null;
  /** The latest frame's raw score per scorer (results' `scores`). */
  scores: ResultPayload['scores'] | null;
  threshold: number | null;
  anomalous: boolean;
  prompt_set: string | null;
  /** Recent scores, oldest first; the provider bounds its length. */
  history: Array<{ ts: number; score: number }>;
  /**
   * Where the anomaly mask lies on the frame, in frame pixels (the ROI that was scored);
   * null = the whole frame.
   */
  overlay_box: BoundingBox | null;
}

/** `/api/state`. */
export interface AgentState {
  device_id: string;
  /** The demo bundle with generated weights is in use: its scores mean nothing. */
  demo: boolean;
  bundle: string;
  /** Only while a TensorRT session is created: "building TensorRT engine for <graph> (first start with this bundle), 42 s". */
  engine?: string;
  mqtt_connected: boolean;
  retune: RetuneStatePayload;
  cameras: CameraSnapshot[];
}

export interface CameraImage {
  bytes: Buffer;
  contentType: 'image/png' | 'image/jpeg';
}

export interface HealthReport {
  healthy: boolean;
  /** e.g. { mqtt: { ok: true }, "camera cam1": { ok: false, detail: "no frame for 12 s" } } */
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** What the HTTP server reads from the running agent. Implemented by the agent (the lead). */
export interface AgentView {
  state(): AgentState;
  /** The latest frame of `camera` (as scored, before the overlay), or null when there is none yet. Encoded on request. */
  frame(camera: string): Promise<CameraImage | null>;
  /** The 8-bit grey PNG anomaly map of that frame (the MQTT mask), or null. Encoded on request. */
  mask(camera: string): Promise<Buffer | null>;
  health(): HealthReport;
}

/**
 * `view` with the texts of `/api/state` and `/healthz` (and so the page) redacted: a camera's reason
 * or a re-tune message may quote a source URL, and these answers leave the device.
 */
export function redactedView(view: AgentView): AgentView {
  return {
    state: () => redactDeep(view.state()),
    frame: (camera) => view.frame(camera),
    mask: (camera) => view.mask(camera),
    health: () => redactDeep(view.health()),
  };
}

// What the HTTP server (the live page, /api/state, /healthz) reads from the running agent, and the
// one place that reads it from the agent's parts.

import type { PromptStore } from '../../tuning/prompt-store.ts';
import { redactDeep } from '../../util/redact.ts';
import type { Cameras } from '../camera/cameras.ts';
import type { CameraState, ResultPayload, RetuneStatePayload } from '../contract/payloads.ts';
import type { RecentEvent } from '../detector/recent-events.ts';
import type { Engine } from '../engine/engine.ts';
import type { EngineStartStatus } from '../engine/engine-start-status.ts';
import type { ActiveModel } from '../model/active-model.ts';
import type { MqttLink } from '../mqtt/mqtt-link.ts';
import type { RetuneRunner } from '../retune/retune-job.ts';
import { type PromptSetHistory, promptSetHistory } from './prompt-set-history.ts';

/** What the live page shows of one camera. */
export interface CameraView {
  name: string;
  status: CameraState;
  status_reason?: string;
  /** Changes with every new frame; the page reloads the images when it does. null before the first. */
  frame_id: number | null;
  score: number | null;
  /** The latest frame's raw score per scorer (results' `scores`). */
  scores: ResultPayload['scores'] | null;
  threshold: number | null;
  /** What `set` changes, in force: the sensitivity, and the threshold that replaces the prompt set's (null: the set's own). */
  overrides: { sensitivity: number; threshold: number | null };
  anomalous: boolean;
  prompt_set: string | null;
  /** Recent scores, oldest first; the provider bounds its length. */
  history: Array<{ ts: number; score: number }>;
  /** The last events, newest first. */
  events: RecentEvent[];
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
  cameras: CameraView[];
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

/** What the HTTP server reads from the running agent. */
export interface AgentView {
  state(): AgentState;
  /** The latest frame of `camera` (as scored, before the overlay), or null when there is none yet. Encoded on request. */
  frame(camera: string): Promise<CameraImage | null>;
  /** The 8-bit grey PNG anomaly map of that frame (the MQTT mask), or null. Encoded on request. */
  mask(camera: string): Promise<Buffer | null>;
  health(): HealthReport;
  /** The JPEG thumbnail of one of `camera`'s recent events, or null (unknown camera or event, none encoded). */
  eventThumbnail(camera: string, eventId: string): Promise<Buffer | null>;
  /** `/api/prompt-sets`: the prompt store's sets and which one scores. */
  promptSets(): Promise<PromptSetHistory>;
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
    eventThumbnail: (camera, eventId) => view.eventThumbnail(camera, eventId),
    promptSets: async () => redactDeep(await view.promptSets()),
  };
}

export interface AgentViewSources {
  deviceId: string;
  model: ActiveModel;
  engine: Engine;
  engineStart: EngineStartStatus;
  cameras: Cameras;
  runner: RetuneRunner;
  link: () => MqttLink | null;
  store: PromptStore;
}

export function agentView(s: AgentViewSources): AgentView {
  const camera = (name: string) => {
    const c = s.cameras.get(name);
    return c.ok ? c.value : null;
  };
  return {
    state: () => {
      const engine = s.engineStart.text();
      return {
        device_id: s.deviceId,
        demo: s.model.demo,
        bundle: s.model.bundleDir,
        ...(engine ? { engine } : {}),
        mqtt_connected: s.link()?.connection.connected ?? false,
        retune: s.runner.state,
        cameras: s.cameras.all().map((c) => c.view()),
      };
    },
    frame: async (name) => {
      const b = await camera(name)?.viewFrame();
      return b ? { bytes: b, contentType: 'image/jpeg' } : null;
    },
    mask: async (name) => (await camera(name)?.viewMask()) ?? null,
    eventThumbnail: async (name, id) => (await camera(name)?.recentEvents.thumbnail(id)) ?? null,
    promptSets: async () => promptSetHistory(await s.store.list(), s.model.promptSetId),
    health: () => {
      const checks: Record<string, { ok: boolean; detail?: string }> = {
        mqtt: { ok: s.link()?.connection.connected ?? false },
        inference: { ok: s.engine.provider !== 'none', detail: s.engineStart.text() ?? s.engine.provider },
      };
      for (const c of s.cameras.all()) {
        if (c.status.state === 'disabled') continue;
        checks[`camera ${c.name}`] = { ok: c.status.state === 'online', ...(c.status.reason ? { detail: c.status.reason } : {}) };
      }
      return { healthy: Object.values(checks).every((c) => c.ok), checks };
    },
  };
}

// What an optional integration (Home Assistant discovery, Sparkplug B) sees of the agent: the
// domain events the MQTT contract publishes anyway, pushed to it, as zigbee2mqtt feeds its
// extensions. An integration never reaches into the agent; the agent never knows what it does.
import type { CameraState, ResultPayload, StatsPayload } from '../contract/payloads.ts';

export interface Integration {
  /** For logs. */
  readonly name: string;
  /** A result the contract published (so at most `detector.result_rate_hz` per camera; a change of `anomalous` always). */
  onResult?(camera: string, result: ResultPayload): void;
  onCameraStatus?(camera: string, state: CameraState): void;
  /** Every stats period (per-camera fps). */
  onStats?(stats: StatsPayload): void;
  /** Says goodbye on its own session, if it has one; the agent's connection is stopped after. */
  stop(timeoutMs: number): Promise<void>;
}

import type { IClientPublishOptions } from 'mqtt';
import { createLogger } from '../../util/log.ts';
import { redact } from '../../util/redact.ts';
import type { Result } from '../../util/result.ts';
import { CHANNELS, DEFAULT_EXPIRY_SECONDS } from '../contract/channels.ts';
import type { CameraState, CameraStatusPayload, EventPayload, ResultPayload, RetuneStatePayload, StatsPayload } from '../contract/payloads.ts';
import type { TopicName, Topics } from '../contract/topics.ts';
import type { DetectorEvent } from '../detector/events.ts';
import type { MqttConnection } from './connection.ts';
import type { Outbox } from './outbox.ts';

const log = createLogger('publisher');

export interface ContractPublisherOptions {
  connection: MqttConnection;
  topics: Topics;
  /** Where events wait for the broker. */
  outbox: Outbox;
  /** `detector.result_rate_hz` per camera; 0 = every result. */
  resultRateHz: number;
  /** MQTT 5 message expiry of results and masks: a frame older than this is not worth delivering. */
  expirySeconds?: number;
  now?: () => number;
}

function eventPayload(e: DetectorEvent): EventPayload {
  const bbox = e.bbox ? { x: e.bbox[0], y: e.bbox[1], w: e.bbox[2], h: e.bbox[3] } : null;
  return { ...e, bbox };
}

/** One helper per row of the MQTT contract table, with that row's QoS, retain flag and properties. */
export interface ContractPublisher {
  /** QoS 1, retained. Kept by the client while the link is down. */
  cameraStatus(camera: string, state: CameraState, reason?: string): Promise<void>;
  /**
   * QoS 0 with expiry, at most `resultRateHz` per camera; a result whose `anomalous` differs from
   * the last one published for the camera always goes out. False when dropped (rate, no link).
   */
  result(camera: string, result: ResultPayload): boolean;
  /** 8-bit grey PNG, QoS 0 with expiry; MQTT 5: content type image/png, user property frame_id. */
  mask(camera: string, png: Buffer, frameId: number): boolean;
  /** QoS 1 through the outbox: resolves once it is on disk. */
  event(event: DetectorEvent): Promise<Result<void>>;
  /** QoS 0. */
  stats(stats: StatsPayload): boolean;
  /** QoS 1, retained. */
  retuneState(state: RetuneStatePayload): Promise<void>;
  /** Gives the outbox up to `timeoutMs` to empty, then publishes `stopped` and disconnects. */
  stop(timeoutMs: number): Promise<void>;
}

export function createContractPublisher(opts: ContractPublisherOptions): ContractPublisher {
  const { connection, topics, outbox } = opts;
  const now = opts.now ?? Date.now;
  const expiry = opts.expirySeconds ?? DEFAULT_EXPIRY_SECONDS;
  const minIntervalMs = opts.resultRateHz > 0 ? 1000 / opts.resultRateHz : 0;
  const lastResult = new Map<string, { at: number; anomalous: boolean }>();

  // QoS and retain of each topic as the contract table (and so docs/asyncapi.json) says.
  const flags = (name: TopicName): IClientPublishOptions => ({ qos: CHANNELS[name].qos, retain: CHANNELS[name].retain });
  const deliver = (topic: string, payload: Buffer) => connection.publish(topic, payload, { qos: CHANNELS.events.qos });
  const followLink = (connected: boolean) => (connected ? outbox.resume(deliver) : outbox.pause());
  const unfollow = connection.onConnectionChange(followLink);
  followLink(connection.connected);

  const volatile = (name: TopicName, extra: NonNullable<IClientPublishOptions['properties']> = {}): IClientPublishOptions => ({
    ...flags(name),
    properties: { messageExpiryInterval: expiry, ...extra },
  });
  // Redacted as the last line of defence: sources mask their own text, this catches what they missed.
  const json = (value: unknown) => Buffer.from(redact(JSON.stringify(value)));

  return {
    cameraStatus(camera, state, reason) {
      const payload: CameraStatusPayload = { state, ...(reason ? { reason } : {}), ts: now() };
      return connection.publish(topics.cameraStatus(camera), json(payload), flags('cameraStatus'));
    },
    result(camera, result) {
      const t = now();
      const last = lastResult.get(camera);
      if (last && last.anomalous === result.anomalous && t - last.at < minIntervalMs) return false;
      if (!connection.publishIfConnected(topics.result(camera), json(result), volatile('result', { contentType: CHANNELS.result.contentType }))) return false;
      lastResult.set(camera, { at: t, anomalous: result.anomalous });
      return true;
    },
    mask(camera, png, frameId) {
      return connection.publishIfConnected(
        topics.mask(camera),
        png,
        volatile('mask', { contentType: CHANNELS.mask.contentType, userProperties: { frame_id: String(frameId) } }),
      );
    },
    event(event) {
      return outbox.enqueue(topics.events(event.camera), json(eventPayload(event)));
    },
    stats(stats) {
      return connection.publishIfConnected(topics.stats, json(stats), flags('stats'));
    },
    retuneState(state) {
      return connection.publish(topics.retuneState, json(state), flags('retuneState'));
    },
    async stop(timeoutMs) {
      if (connection.connected) {
        const left = await outbox.drain(timeoutMs);
        if (left > 0) log.warn('stopping with events still in the outbox; they go out on the next start', { depth: left });
      }
      unfollow();
      await outbox.close();
      await connection.stop(timeoutMs);
    },
  };
}

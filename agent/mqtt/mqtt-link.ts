import path from 'node:path';
import { createLogger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';
import type { CommandDispatcher } from '../commands/types.ts';
import type { AgentConfig } from '../config.ts';
import { createTopics, type Topics } from '../contract/topics.ts';
import { attachCommandChannel } from './command-channel.ts';
import { connectMqtt, type MqttConnection, type SessionAnnouncements } from './connection.ts';
import { findClaimHolder, liveHolderMessage } from './device-claim.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './embedded-broker.ts';
import { type Outbox, openOutbox } from './outbox.ts';
import { type ContractPublisher, createContractPublisher } from './publisher.ts';
import { readTlsMaterial } from './tls.ts';

const log = createLogger('mqtt');

/** The `mqtt:` section of the configuration, as this module needs it (commands are the dispatcher's). */
export type MqttSettings = Omit<AgentConfig['mqtt'], 'command_secret'>;

export interface MqttLinkOptions {
  mqtt: MqttSettings;
  deviceId: string;
  dataDir: string;
  /** `detector.result_rate_hz` */
  resultRateHz: number;
  dispatcher: CommandDispatcher;
  /** `mqtt.command_secret`, to sign the status command that asks whether another agent holds this device id. */
  commandSecret?: string | null;
  /** Told how many events were just evicted from the outbox (Prometheus counter). */
  onEvicted?: (count: number) => void;
  /** Told about every event the outbox lost, by reason (Prometheus counter); see OutboxOptions. */
  onDropped?: (reason: string, count: number) => void;
  /** P/status payload published on connect; default `online` (the agent says what it is doing while it is not online yet). */
  availability?: () => string;
  /** Tests shorten this; the default suits a broker that restarts. */
  reconnectPeriodMs?: number;
  /** Told when another agent took this device id over while running: the link has stopped for good. */
  onDeviceIdTaken?: (reason: string) => void;
}

/**
 * Err when another agent answers for this device id on the broker (device-claim.ts). A stale claim
 * or a broker that cannot be asked is no reason to stay away: the client id is taken as before.
 */
async function claimDeviceId(ask: Parameters<typeof findClaimHolder>[0]): Promise<Result<void>> {
  const holder = await findClaimHolder(ask);
  if (holder.kind === 'live') return err(liveHolderMessage(ask.deviceId, holder.detail));
  if (holder.kind === 'stale') {
    log.info(
      `the claim on ${ask.topics.status} is online but nobody answered a status command in ${holder.waitedMs} ms: a session that is gone; taking the client id over`,
    );
  }
  if (holder.kind === 'unknown') log.debug('could not ask the broker who holds this device id', { reason: holder.reason });
  return ok(undefined);
}

/** Everything MQTT of a running agent, assembled from the configuration. */
export interface MqttLink {
  readonly topics: Topics;
  readonly connection: MqttConnection;
  readonly publisher: ContractPublisher;
  readonly outbox: Outbox;
  /** The in-process broker when `mqtt.url` is `embedded`. */
  readonly broker: EmbeddedBroker | null;
  /**
   * Another session on the same broker, with the same URL, TLS material, credentials and protocol
   * version, for an integration that needs a Will of its own (Sparkplug's NDEATH). Refused CONNACKs
   * are retried with the wait doubling up to `maxReconnectPeriodMs`. The caller stops it.
   */
  openSession(clientId: string, announcements: SessionAnnouncements, maxReconnectPeriodMs: number): MqttConnection;
  /** Outbox drained (up to `timeoutMs`), `stopped` published, disconnected, embedded broker closed. */
  stop(timeoutMs: number): Promise<void>;
}

export async function openMqttLink(opts: MqttLinkOptions): Promise<Result<MqttLink>> {
  const { mqtt } = opts;
  const topics = createTopics(mqtt.topic_prefix, opts.deviceId);
  if (!topics.ok) return topics;
  let broker: EmbeddedBroker | null = null;
  let url = mqtt.url;
  if (url === 'embedded') {
    const started = await startEmbeddedBroker({ port: mqtt.port });
    if (!started.ok) return started;
    broker = started.value;
    url = `mqtt://${broker.host}:${broker.port}`;
  }
  const tls = readTlsMaterial({ ca: mqtt.ca, cert: mqtt.cert, key: mqtt.key }, url);
  if (!tls.ok) {
    await broker?.stop();
    return tls;
  }
  const checkClaim = () =>
    claimDeviceId({
      url,
      username: mqtt.username,
      password: mqtt.password,
      tls: tls.value,
      deviceId: opts.deviceId,
      topics: topics.value,
      commandSecret: opts.commandSecret ?? null,
    });
  // The embedded broker is this process's own: nobody else can hold the id there before us.
  if (!broker) {
    const claimed = await checkClaim();
    if (!claimed.ok) return claimed;
  }
  let outbox: Outbox;
  const outboxDir = path.join(opts.dataDir, 'outbox');
  try {
    outbox = await openOutbox({ dir: outboxDir, maxBytes: mqtt.outbox_max_mb * 1024 * 1024, onEvicted: opts.onEvicted, onDropped: opts.onDropped });
  } catch (e) {
    await broker?.stop();
    return err(`cannot open the event outbox in ${outboxDir}: ${(e as Error).message}`);
  }
  const endpoint = {
    url,
    username: mqtt.username,
    password: mqtt.password,
    tls: tls.value,
    // aedes speaks 3.1.1 only: asking it for 5 would just log a fallback on every start.
    protocolVersion: broker ? 4 : mqtt.protocol_version,
    reconnectPeriodMs: opts.reconnectPeriodMs,
  } as const;
  const connection = connectMqtt({
    ...endpoint,
    clientId: `linewatch-${opts.deviceId}`,
    availability: {
      topic: topics.value.status,
      // Read on every connect: what the agent is doing while it is not online yet (a TensorRT engine build).
      get online() {
        return opts.availability?.() ?? 'online';
      },
      offline: 'offline',
      stopped: 'stopped',
    },
    checkClaim: broker ? undefined : checkClaim,
    onGiveUp: opts.onDeviceIdTaken,
  });
  const publisher = createContractPublisher({ connection, topics: topics.value, outbox, resultRateHz: opts.resultRateHz });
  attachCommandChannel(connection, topics.value, opts.dispatcher);
  return ok({
    topics: topics.value,
    connection,
    publisher,
    outbox,
    broker,
    openSession: (clientId, announcements, maxReconnectPeriodMs) => connectMqtt({ ...endpoint, clientId, announcements, maxReconnectPeriodMs }),
    async stop(timeoutMs) {
      await publisher.stop(timeoutMs);
      await broker?.stop();
    },
  });
}

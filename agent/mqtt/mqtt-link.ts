import path from 'node:path';
import { err, ok, type Result } from '../../util/result.ts';
import type { CommandDispatcher } from '../commands/types.ts';
import type { AgentConfig } from '../config.ts';
import { attachCommandChannel } from './command-channel.ts';
import { connectMqtt, type MqttConnection, type SessionAnnouncements } from './connection.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
import { openOutbox, type Outbox } from './outbox.ts';
import { createContractPublisher, type ContractPublisher } from './publisher.ts';
import { readTlsMaterial } from './tls.ts';
import { createTopics, type Topics } from './topics.ts';

/** The `mqtt:` section of the configuration, as this module needs it (commands are the dispatcher's). */
export type MqttSettings = Omit<AgentConfig['mqtt'], 'command_secret'>;

export interface MqttLinkOptions {
  mqtt: MqttSettings;
  deviceId: string;
  dataDir: string;
  /** `detector.result_rate_hz` */
  resultRateHz: number;
  dispatcher: CommandDispatcher;
  /** Told how many events were just evicted from the outbox (Prometheus counter). */
  onEvicted?: (count: number) => void;
  /** Tests shorten this; the default suits a broker that restarts. */
  reconnectPeriodMs?: number;
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
  let outbox: Outbox;
  const outboxDir = path.join(opts.dataDir, 'outbox');
  try {
    outbox = await openOutbox({ dir: outboxDir, maxBytes: mqtt.outbox_max_mb * 1024 * 1024, onEvicted: opts.onEvicted });
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
    availability: { topic: topics.value.status, online: 'online', offline: 'offline', stopped: 'stopped' },
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

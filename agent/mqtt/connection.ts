import mqtt, { type IClientOptions, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { createLogger } from '../../util/log.ts';
import type { Result } from '../../util/result.ts';
import type { TlsMaterial } from './tls.ts';

const log = createLogger('mqtt');

export type ProtocolVersion = 4 | 5;

/** The availability topic of the contract: `online` on every connect, `stopped` on a graceful stop, `offline` as the Will. */
export interface Availability {
  topic: string;
  online: string;
  offline: string;
  stopped: string;
}

/** One message of a session's life cycle: its Will, or one it says on connect or before a clean stop. */
export interface SessionMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
}

/**
 * What a session tells subscribers about its own life. The contract's availability topic is one
 * kind (`availabilityAnnouncements`); a Sparkplug edge node is another (NBIRTH on connect, NDEATH
 * as the Will and before a clean stop).
 */
export interface SessionAnnouncements {
  /** Asked before every CONNECT (first, reconnect, protocol fallback): a Will may differ per session (Sparkplug's bdSeq). */
  will(): SessionMessage;
  /** Sent first on every connect, before anything that waited for the link. */
  onConnect(): SessionMessage[];
  /** Sent before the clean DISCONNECT (the Will is then not sent), when connected. */
  farewell(): SessionMessage;
}

export function availabilityAnnouncements(a: Availability): SessionAnnouncements {
  const message = (payload: string): SessionMessage => ({ topic: a.topic, payload: Buffer.from(payload), qos: 1, retain: true });
  return { will: () => message(a.offline), onConnect: () => [message(a.online)], farewell: () => message(a.stopped) };
}

interface MqttConnectionBase {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  clientId: string;
  username: string | null;
  password: string | null;
  tls: TlsMaterial;
  /** What to ask for first; 5 falls back to 4 when the broker refuses MQTT 5. */
  protocolVersion: ProtocolVersion;
  reconnectPeriodMs?: number;
  /** When set, every failed reconnect doubles the wait up to this (reset on connect); else the wait stays `reconnectPeriodMs`. */
  maxReconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  keepaliveSeconds?: number;
  /**
   * Asked each time an established connection is lost, before the client reconnects (a reconnect
   * would knock the new holder off, and an answer heard while connected could be our own): an
   * error says another agent holds this client id now (the broker closed us for it), and the
   * connection then gives the id up for good instead of taking it back in a loop, and calls
   * `onGiveUp` with the reason. No answer within `claimCheckLimitMs` counts as free. See
   * device-claim.ts.
   */
  checkClaim?: () => Promise<Result<void>>;
  onGiveUp?: (reason: string) => void;
  /** How long a claim check may hold the reconnect; default 30 s (device-claim.ts needs at most its connect timeout + answer wait). */
  claimCheckLimitMs?: number;
}

export type MqttConnectionOptions = MqttConnectionBase & ({ availability: Availability } | { announcements: SessionAnnouncements });

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;
export type ConnectionListener = (connected: boolean) => void;

export interface MqttConnection {
  /** The version in use: what was asked for, or 4 after the broker refused 5. */
  readonly protocolVersion: ProtocolVersion;
  readonly connected: boolean;
  /**
   * Resolves when the broker has the message: on PUBACK for QoS 1, once written for QoS 0.
   * QoS 1 messages published while the link is down are kept by the client and sent on reconnect.
   * MQTT 5 properties are dropped under 3.1.1, which has no place for them.
   */
  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions): Promise<void>;
  /** For QoS 0 data that is worthless late (results, masks, stats): sent only while connected. */
  publishIfConnected(topic: string, payload: string | Buffer, opts: IClientPublishOptions): boolean;
  /** Kept for the life of the connection: renewed on every reconnect and on protocol fallback. */
  subscribe(filter: string): void;
  onMessage(handler: MessageHandler): void;
  /** Returns a function that removes the listener. */
  onConnectionChange(listener: ConnectionListener): () => void;
  /** Publishes the farewell (`stopped`; when connected), disconnects cleanly so the Will is not sent. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * A CONNACK that says the broker does not speak the protocol version we asked for: 1 is the
 * 3.1.1 return code "unacceptable protocol version" (what a 3.1.1-only broker such as aedes sends,
 * also when the client asked for 5), 132 (0x84) the MQTT 5 reason code "unsupported protocol version".
 */
function isProtocolRefusal(e: Error & { code?: unknown }): boolean {
  return e.code === 1 || e.code === 132;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A reconnect period that outlasts any claim check (setInterval takes at most 2^31 - 1 ms). */
const HOLD_RECONNECT_MS = 2 ** 31 - 1;

export function connectMqtt(opts: MqttConnectionOptions): MqttConnection {
  const subscriptions: string[] = [];
  const messageHandlers: MessageHandler[] = [];
  const listeners = new Set<ConnectionListener>();
  const announce = 'announcements' in opts ? opts.announcements : availabilityAnnouncements(opts.availability);
  const basePeriodMs = opts.reconnectPeriodMs ?? 2000;
  // Publishes issued before the first CONNACK wait here rather than in the client, because the
  // client they would sit in is thrown away when the broker refuses MQTT 5.
  let waitingForFirstConnect: Array<{ run: () => void; reject: (e: Error) => void }> = [];
  let version = opts.protocolVersion;
  let everConnected = false;
  let connected = false;
  let stopping = false;
  let lastError = '';

  const setConnected = (now: boolean) => {
    if (now === connected) return;
    connected = now;
    for (const l of listeners) l(now);
  };

  const clientOptions = (v: ProtocolVersion): IClientOptions => ({
    clientId: opts.clientId,
    protocolVersion: v,
    clean: true,
    username: opts.username ?? undefined,
    password: opts.password ?? undefined,
    ...opts.tls,
    rejectUnauthorized: true,
    reconnectPeriod: basePeriodMs,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    keepalive: opts.keepaliveSeconds ?? 30,
    // A refused CONNACK (bad credentials, server busy) is retried like a lost link: an edge device
    // must come back on its own once the broker side is fixed.
    reconnectOnConnackError: true,
    queueQoSZero: false,
    will: announce.will(),
  });

  const open = (v: ProtocolVersion): MqttClient => {
    const c = mqtt.connect(opts.url, clientOptions(v));
    // A client given up for the fallback may still report its own end; only the current one counts.
    const current = () => c === client;
    c.on('connect', () => {
      if (!current()) return;
      everConnected = true;
      lastError = '';
      log.info('connected to MQTT broker', { url: opts.url, protocol_version: v });
      c.options.reconnectPeriod = basePeriodMs;
      for (const m of announce.onConnect()) c.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain });
      const waiting = waitingForFirstConnect;
      waitingForFirstConnect = [];
      for (const w of waiting) w.run();
      setConnected(true);
    });
    // mqtt.js builds each CONNECT from its options, right after this event.
    c.on('reconnect', () => {
      if (!current()) return;
      c.options.will = announce.will();
      if (opts.maxReconnectPeriodMs) c.options.reconnectPeriod = Math.min(opts.maxReconnectPeriodMs, (c.options.reconnectPeriod ?? basePeriodMs) * 2);
    });
    // mqtt.js emits `offline` on the first close after a connect, just before it arms its
    // reconnect timer with `reconnectPeriod`: the one moment a claim check can hold that timer.
    // The check's end restores the period and reconnects (MqttClient.reconnect clears the timer).
    c.on('offline', () => {
      if (current() && connected && !stopping && opts.checkClaim) c.options.reconnectPeriod = HOLD_RECONNECT_MS;
    });
    c.on('close', () => {
      if (!current()) return;
      if (connected && !stopping) {
        log.warn('lost the MQTT broker; reconnecting', { url: opts.url });
        checkClaimAfterLoss();
      }
      setConnected(false);
    });
    c.on('error', (e: Error & { code?: unknown }) => {
      if (!current()) return;
      if (!everConnected && v === 5 && isProtocolRefusal(e)) {
        log.warn('the broker refused MQTT 5; falling back to MQTT 3.1.1', { url: opts.url });
        c.end(true);
        version = 4;
        client = open(4);
        return;
      }
      // A broker that stays down fails every reconnect the same way: say it once.
      if (e.message !== lastError) log.warn('MQTT connection problem', { url: opts.url, client_id: opts.clientId, error: e.message });
      lastError = e.message;
    });
    c.on('message', (topic, payload, packet) => {
      for (const h of messageHandlers) h(topic, payload, packet);
    });
    for (const filter of subscriptions) c.subscribe(filter, { qos: 1 });
    return c;
  };

  const checkClaimAfterLoss = () => {
    if (!opts.checkClaim) return;
    const held = client;
    const limitMs = opts.claimCheckLimitMs ?? 30_000;
    void withTimeout(opts.checkClaim(), limitMs).then((claim) => {
      if (stopping || held !== client) return;
      if (claim === 'timeout' || claim.ok) {
        if (claim === 'timeout') log.warn('the device-id claim check did not answer; reconnecting', { url: opts.url, waited_ms: limitMs });
        held.options.reconnectPeriod = basePeriodMs;
        held.reconnect();
        return;
      }
      stopping = true;
      log.error(claim.error);
      held.end(true);
      opts.onGiveUp?.(claim.error);
    });
  };

  let client: MqttClient;
  client = open(version);

  const forVersion = (o: IClientPublishOptions): IClientPublishOptions => {
    if (version === 5 || o.properties === undefined) return o;
    const { properties: _dropped, ...rest } = o;
    return rest;
  };

  const send = (topic: string, payload: string | Buffer, o: IClientPublishOptions) =>
    new Promise<void>((resolve, reject) => {
      client.publish(topic, payload, forVersion(o), (e) => (e ? reject(e) : resolve()));
    });

  const publish = (topic: string, payload: string | Buffer, o: IClientPublishOptions): Promise<void> => {
    if (stopping) return Promise.reject(new Error('the MQTT connection is stopping'));
    if (everConnected) return send(topic, payload, o);
    return new Promise<void>((resolve, reject) => {
      waitingForFirstConnect.push({ run: () => send(topic, payload, o).then(resolve, reject), reject });
    });
  };

  let stopped: Promise<void> | null = null;
  const stopOnce = async (timeoutMs: number): Promise<void> => {
    if (connected) {
      const bye = announce.farewell();
      const said = await withTimeout(send(bye.topic, bye.payload, { qos: bye.qos, retain: bye.retain }), timeoutMs).then(
        (r) => (r === 'timeout' ? 'no PUBACK in time' : null),
        (e: Error) => e.message,
      );
      if (said !== null) log.warn('could not publish its farewell before disconnecting', { topic: bye.topic, reason: said });
    }
    stopping = true;
    for (const w of waitingForFirstConnect) w.reject(new Error('the MQTT connection stopped before it ever connected'));
    waitingForFirstConnect = [];
    // A clean DISCONNECT tells the broker not to send the Will; it waits for QoS 1 still in flight.
    const ended = await withTimeout(client.endAsync(!connected), timeoutMs).catch(() => 'timeout' as const);
    if (ended === 'timeout') await client.endAsync(true);
    setConnected(false);
    log.info('MQTT connection stopped', { url: opts.url });
  };
  const stop = (timeoutMs = 5000) => (stopped ??= stopOnce(timeoutMs));

  return {
    get protocolVersion() {
      return version;
    },
    get connected() {
      return connected;
    },
    publish,
    publishIfConnected(topic, payload, o) {
      if (!connected || stopping) return false;
      client.publish(topic, payload, forVersion(o));
      return true;
    },
    subscribe(filter) {
      subscriptions.push(filter);
      client.subscribe(filter, { qos: 1 });
    },
    onMessage(handler) {
      messageHandlers.push(handler);
    },
    onConnectionChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop,
  };
}

// The agent as a Sparkplug B 3.0 edge node, one device per camera, in an MQTT session of its own:
// its Will is the NDEATH, which the agent's main session (Will `offline` on P/status) cannot carry.
// The session is opened like the main one (same URL, TLS, credentials: MqttLink.openSession) and
// a broker that refuses it is retried with a growing wait while the rest of the agent runs on.
//
// What the specification asks and where it happens here:
// - bdSeq starts at 0 and grows by one on every CONNECT (0..255); the Will (NDEATH) and the NBIRTH
//   of a session carry the same one: `will()` is asked before each CONNECT and remembers it.
// - NBIRTH has seq 0, every later message of the session seq + 1 (wrapping 255 -> 0); NDEATH none.
// - NBIRTH carries bdSeq and `Node Control/Rebirth` (false); an NCMD writing it true gets the whole
//   birth sequence again (NBIRTH, then a DBIRTH per online camera) with the same bdSeq.
// - DBIRTH when a camera is online, DDEATH when it goes offline or is disabled, DDATA with the
//   metrics that changed, at the rate the contract publishes results.
// - A DCMD writing `Device Control/Retune` true starts a re-tune of that camera through the command
//   dispatcher (so it obeys retune.min_interval_s and the one-job rule). Without a signature it is
//   refused when mqtt.command_secret is set, so the metric is not offered then.
// - Everything QoS 0, not retained, except the NDEATH (Will and the one sent before a clean stop): QoS 1.
import { createLogger } from '../../../util/log.ts';
import type { CommandDispatcher } from '../../commands/types.ts';
import type { CameraState, ResultPayload, StatsPayload } from '../../contract/payloads.ts';
import type { MqttConnection, SessionAnnouncements, SessionMessage } from '../../mqtt/connection.ts';
import type { Integration } from '../integration.ts';
import { birthMetrics, type CameraReading, changedMetrics, DEVICE_REBIRTH_METRIC, RETUNE_METRIC, unknownReading } from './camera-device.ts';
import { commandFlag, decodePayload, encodePayload, sparkplugTopics, type UMetric, type UPayload } from './messages.ts';

const log = createLogger('sparkplug');

export const NODE_REBIRTH_METRIC = 'Node Control/Rebirth';
/** The longest wait between two attempts when the broker refuses the session. */
const MAX_RETRY_MS = 60_000;

export interface EdgeNodeOptions {
  groupId: string;
  edgeNodeId: string;
  cameras: readonly string[];
  /** `mqtt.command_secret` is set: an unsigned DCMD re-tune would be refused, so none is offered. */
  signedCommands: boolean;
  dispatcher: CommandDispatcher;
  /** Opens the session with these announcements (MqttLink.openSession). */
  openSession(clientId: string, announcements: SessionAnnouncements, maxReconnectPeriodMs: number): MqttConnection;
  now?: () => number;
}

export function startSparkplugEdgeNode(o: EdgeNodeOptions): Integration {
  const now = o.now ?? Date.now;
  const topics = sparkplugTopics(o.groupId, o.edgeNodeId);
  const readings = new Map(o.cameras.map((c) => [c, unknownReading()]));
  /** Cameras with a DBIRTH in the current session. */
  const born = new Set<string>();
  let bdSeq = -1;
  let seq = 0;

  const bdSeqMetric = (): UMetric => ({ name: 'bdSeq', type: 'Int64', value: bdSeq });
  const ndeath = (): SessionMessage => ({
    topic: topics.node('NDEATH'),
    payload: encodePayload({ timestamp: now(), metrics: [bdSeqMetric()] }),
    qos: 1,
    retain: false,
  });
  /** The next message of the session, numbered; NBIRTH restarts the numbering at 0. */
  const numbered = (topic: string, metrics: UMetric[]): SessionMessage => {
    const payload = encodePayload({ timestamp: now(), seq, metrics });
    seq = (seq + 1) % 256;
    return { topic, payload, qos: 0, retain: false };
  };
  const nbirth = (): SessionMessage => {
    seq = 0;
    born.clear();
    return numbered(topics.node('NBIRTH'), [bdSeqMetric(), { name: NODE_REBIRTH_METRIC, type: 'Boolean', value: false }]);
  };
  const dbirth = (camera: string): SessionMessage => {
    born.add(camera);
    return numbered(topics.device('DBIRTH', camera), birthMetrics(readings.get(camera)!, { retune: !o.signedCommands }));
  };
  const birthSequence = (): SessionMessage[] => [nbirth(), ...o.cameras.filter((c) => readings.get(c)!.state === 'online').map(dbirth)];

  const announcements: SessionAnnouncements = {
    will() {
      bdSeq = (bdSeq + 1) % 256;
      return ndeath();
    },
    onConnect: birthSequence,
    farewell: ndeath,
  };
  const connection = o.openSession(`linewatch-spb-${o.edgeNodeId}`, announcements, MAX_RETRY_MS);

  /** Sent only within a session: what happened meanwhile goes out in the births of the next one. */
  const send = (build: () => SessionMessage) => {
    if (!connection.connected) return;
    const m = build();
    connection.publishIfConnected(m.topic, m.payload, { qos: m.qos, retain: m.retain });
  };

  const update = (camera: string, change: Partial<CameraReading>) => {
    const before = readings.get(camera);
    if (!before) return;
    const after = { ...before, ...change };
    readings.set(camera, after);
    if (after.state === 'online' && !born.has(camera)) return send(() => dbirth(camera));
    if (after.state !== 'online' && born.has(camera)) {
      born.delete(camera);
      return send(() => numbered(topics.device('DDEATH', camera), []));
    }
    const changed = born.has(camera) ? changedMetrics(before, after) : [];
    if (changed.length) send(() => numbered(topics.device('DDATA', camera), changed));
  };

  const retune = async (camera: string) => {
    const reply = await o.dispatcher.dispatch({ name: 'retune', payload: JSON.stringify({ camera }) });
    if (reply.ok) log.info('re-tune started by a DCMD', { camera, result: reply.result });
    else log.warn('re-tune by a DCMD refused', { camera, error: reply.error });
  };

  const onCommand = (topic: string, payload: Buffer) => {
    const camera = topic === topics.node('NCMD') ? null : topics.commandedDevice(topic);
    if (camera === null && topic !== topics.node('NCMD')) return;
    let command: UPayload;
    try {
      command = decodePayload(payload);
    } catch (e) {
      log.warn('ignoring a command that is no Sparkplug B payload', { topic, error: (e as Error).message });
      return;
    }
    if (camera === null) {
      if (commandFlag(command, NODE_REBIRTH_METRIC) === true) {
        log.info('rebirth requested');
        for (const m of birthSequence()) send(() => m);
      }
      return;
    }
    if (!readings.has(camera)) {
      log.warn('ignoring a DCMD for an unknown device', { topic });
      return;
    }
    if (commandFlag(command, DEVICE_REBIRTH_METRIC) === true && born.has(camera)) send(() => dbirth(camera));
    if (commandFlag(command, RETUNE_METRIC) === true) void retune(camera);
  };

  connection.subscribe(topics.node('NCMD'));
  connection.subscribe(topics.deviceCommandFilter);
  connection.onMessage(onCommand);

  return {
    name: 'sparkplug',
    onResult(camera: string, r: ResultPayload) {
      update(camera, { score: r.score, anomalous: r.anomalous, threshold: r.threshold, prompt_set: r.prompt_set });
    },
    onCameraStatus(camera: string, state: CameraState) {
      update(camera, { state });
    },
    onStats(stats: StatsPayload) {
      for (const [camera, s] of Object.entries(stats.cameras)) update(camera, { fps: s.fps });
    },
    stop: (timeoutMs) => connection.stop(timeoutMs),
  };
}

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { IClientPublishOptions } from 'mqtt';
import type { ResultPayload } from '../../../agent/contract/payloads.ts';
import { createTopics } from '../../../agent/contract/topics.ts';
import type { ConnectionListener, MqttConnection } from '../../../agent/mqtt/connection.ts';
import { openOutbox } from '../../../agent/mqtt/outbox.ts';
import { createContractPublisher } from '../../../agent/mqtt/publisher.ts';

/** Test double of the MQTT connection: records publishes, connected or not as the test says. */
function recordingConnection() {
  const sent: Array<{ topic: string; payload: string; opts: IClientPublishOptions }> = [];
  const listeners = new Set<ConnectionListener>();
  let connected = true;
  const connection: MqttConnection = {
    protocolVersion: 5,
    get connected() {
      return connected;
    },
    async publish(topic, payload, opts) {
      sent.push({ topic, payload: payload.toString(), opts });
    },
    publishIfConnected(topic, payload, opts) {
      if (!connected) return false;
      sent.push({ topic, payload: payload.toString(), opts });
      return true;
    },
    subscribe() {},
    onMessage() {},
    onConnectionChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async stop() {},
  };
  const setConnected = (c: boolean) => {
    connected = c;
    for (const l of listeners) l(c);
  };
  return { sent, connection, setConnected };
}

const result = (frame_id: number, anomalous: boolean): ResultPayload => ({
  ts: frame_id,
  frame_id,
  score: anomalous ? 0.9 : 0.1,
  raw_score: 0,
  scores: { prompt: 0 },
  anomalous,
  threshold: 0.5,
  prompt_set: 'ps',
  latency_ms: { pre: 0, infer: 0, post: 0 },
});

async function setup() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'linewatch-publisher-'));
  const outbox = await openOutbox({ dir, maxBytes: 1 << 20 });
  const topics = createTopics('plant/hall2', 'node1');
  assert.ok(topics.ok);
  const link = recordingConnection();
  let now = 0;
  const publisher = createContractPublisher({ connection: link.connection, topics: topics.value, outbox, resultRateHz: 2, expirySeconds: 7, now: () => now });
  return { ...link, publisher, outbox, dir, setNow: (t: number) => (now = t) };
}

test('results are rate-limited per camera, except when the anomalous flag flips; none go out without a link', async () => {
  const s = await setup();
  const attempts: Array<[number, string, boolean]> = [
    [0, 'cam1', false], // first: sent
    [100, 'cam1', false], // 100 ms after the last one at 2 Hz: dropped
    [100, 'cam2', false], // another camera has its own budget: sent
    [200, 'cam1', true], // the flag flipped: sent at once
    [600, 'cam1', true], // 400 ms after the last sent: dropped
    [700, 'cam1', true], // 500 ms: sent
  ];
  const outcomes = attempts.map(([t, cam, anomalous], i) => {
    s.setNow(t);
    return s.publisher.result(cam, result(i, anomalous));
  });
  assert.deepEqual(outcomes, [true, false, true, true, false, true]);
  assert.deepEqual(
    s.sent.map((m) => [m.topic, JSON.parse(m.payload).frame_id]),
    [
      ['plant/hall2/node1/cam1/result', 0],
      ['plant/hall2/node1/cam2/result', 2],
      ['plant/hall2/node1/cam1/result', 3],
      ['plant/hall2/node1/cam1/result', 5],
    ],
  );
  assert.deepEqual(s.sent[0].opts, { qos: 0, retain: false, properties: { messageExpiryInterval: 7, contentType: 'application/json' } });

  s.setConnected(false);
  s.setNow(5000);
  assert.equal(s.publisher.result('cam1', result(9, false)), false);
  await s.outbox.close();
  await fs.rm(s.dir, { recursive: true, force: true });
});

test('events wait in the outbox while the link is down and go out on the events topic when it is back', async () => {
  const s = await setup();
  s.setConnected(false);
  const event = { type: 'new' as const, id: 'e1', camera: 'cam1', start_ts: 1, end_ts: null, max_score: 0.9, frames: 3, bbox: null };
  assert.deepEqual(await s.publisher.event(event), { ok: true, value: undefined });
  assert.equal(s.outbox.depth, 1);
  assert.deepEqual(s.sent, []);
  s.setConnected(true);
  assert.equal(await s.outbox.drain(30_000), 0);
  assert.deepEqual(s.sent, [{ topic: 'plant/hall2/node1/cam1/events', payload: JSON.stringify(event), opts: { qos: 1 } }]);

  await s.publisher.cameraStatus('cam1', 'offline', 'no frame for 10 s');
  assert.deepEqual(s.sent[1], {
    topic: 'plant/hall2/node1/cam1/status',
    payload: JSON.stringify({ state: 'offline', reason: 'no frame for 10 s', ts: 0 }),
    opts: { qos: 1, retain: true },
  });
  await s.publisher.stop(1000);
  await fs.rm(s.dir, { recursive: true, force: true });
});

test('topic prefixes and device ids that would break the topic tree are refused', () => {
  assert.deepEqual(createTopics('lw', 'line/1'), {
    ok: false,
    error: 'device_id "line/1": must not contain "/", "+", "#" or NUL (it is one MQTT topic level)',
  });
  assert.equal(createTopics('lw//x', 'n').ok, false);
  assert.equal(createTopics('lw/#', 'n').ok, false);
  const t = createTopics('lw', 'n');
  assert.ok(t.ok);
  assert.equal(t.value.commandName('lw/n/cmd/retune'), 'retune');
  assert.equal(t.value.commandName('lw/n/cmd/retune/reply'), null);
  assert.equal(t.value.commandName('lw/other/cmd/retune'), null);
});

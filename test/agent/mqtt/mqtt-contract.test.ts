import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { createCommandDispatcher } from '../../../agent/commands/dispatcher.ts';
import type { CommandDispatcher } from '../../../agent/commands/types.ts';
import type { ResultPayload } from '../../../agent/contract/payloads.ts';
import type { DetectorEvent } from '../../../agent/detector/events.ts';
import { startEmbeddedBroker } from '../../../agent/mqtt/embedded-broker.ts';
import { type MqttLink, type MqttSettings, openMqttLink } from '../../../agent/mqtt/mqtt-link.ts';
import { checkPublished, loadContractChannels } from '../../support/asyncapi-channels.ts';
import { findExecutable, makeCertificates, observer, sleep, startMosquitto, tempDir } from '../../support/mqtt-harness.ts';
import { REPO_ROOT } from '../../support/paths.ts';
import { recordingHandlers } from '../../support/recording-handlers.ts';

const SECRET = 'contract-secret';
const PREFIX = 'lw';
const TEST_TIMEOUT = { timeout: 60_000 }; // a hang guard, not an assertion on speed
// The published document, read as a consumer would; `cam1` is the only camera these tests use.
const CONTRACT = loadContractChannels({ prefix: [PREFIX], camera: ['cam1'] });

/** Signed the way the docs describe, written out by hand: HMAC over domain, name and sorted-key JSON. */
function signedBody(name: string, requestId: string, ts = Date.now()): string {
  const canonical = `{"request_id":"${requestId}","ts":${ts}}`;
  const sig = createHmac('sha256', SECRET).update(`linewatch-cmd-v1\n${name}\n${canonical}`).digest('hex');
  return JSON.stringify({ request_id: requestId, ts, sig });
}

function openLink(url: string, deviceId: string, dataDir: string, dispatcher: CommandDispatcher, settings: Partial<MqttSettings> = {}) {
  return openMqttLink({
    mqtt: {
      url,
      port: 0,
      username: null,
      password: null,
      ca: null,
      cert: null,
      key: null,
      protocol_version: 5,
      topic_prefix: PREFIX,
      outbox_max_mb: 1,
      ...settings,
    },
    deviceId,
    dataDir,
    resultRateHz: 0,
    dispatcher,
    reconnectPeriodMs: 200,
  });
}

async function openAgent(url: string, deviceId: string, settings: Partial<MqttSettings> = {}) {
  const { calls, handlers } = recordingHandlers();
  const link = await openLink(url, deviceId, await tempDir(), createCommandDispatcher(handlers, { secret: SECRET }), settings);
  assert.ok(link.ok, link.ok ? '' : link.error);
  await untilConnected(link.value, true);
  return { link: link.value, calls };
}

function untilConnected(link: MqttLink, wanted: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (link.connection.connected === wanted) return resolve();
    const off = link.connection.onConnectionChange((c) => {
      if (c === wanted) {
        off();
        resolve();
      }
    });
  });
}

const sampleResult = (frameId: number): ResultPayload => ({
  ts: 1_700_000_000_000 + frameId,
  frame_id: frameId,
  score: 0.81,
  raw_score: 0.2734,
  scores: { prompt: 0.2734 },
  anomalous: true,
  threshold: 0.5,
  prompt_set: 'ps-0003',
  latency_ms: { pre: 1.5, infer: 40.25, post: 2 },
});

const sampleEvent = (n: number): DetectorEvent => ({
  type: 'new',
  id: `ev-${n}`,
  camera: 'cam1',
  start_ts: 1_700_000_000_000 + n,
  end_ts: null,
  max_score: 0.9,
  frames: 3,
  bbox: [10, 20, 30, 40],
});

// An 8-bit grey 1x1 PNG, as the detector produces (content does not matter to the transport).
const PNG_1X1 = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010800000000376ef9240000000a49444154789c6360000000020001e221bc330000000049454e44ae426082',
  'hex',
);

/** Runs an agent (this repo's connection code) in a child process, to be SIGKILLed. */
function spawnAgentChild(url: string, deviceId: string): ChildProcess {
  const code = `
    import { connectMqtt } from './agent/mqtt/connection.ts';
    const c = connectMqtt({ url: ${JSON.stringify(url)}, clientId: 'child-${deviceId}', username: null, password: null, tls: {},
      protocolVersion: 5, availability: { topic: '${PREFIX}/${deviceId}/status', online: 'online', offline: 'offline', stopped: 'stopped' } });
    setInterval(() => {}, 1000);`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, stdio: 'ignore' });
}

/** The checks both brokers must pass. `v5` says whether the broker speaks MQTT 5. */
async function checkContract(url: string, v5: boolean, cleanups: Array<() => unknown>) {
  const device = `dev-${v5 ? 'v5' : 'v4'}`;
  const P = `${PREFIX}/${device}`;
  const watcher = await observer(url, { protocolVersion: v5 ? 5 : 4 }, [`${P}/#`, `${PREFIX}/+/status`]);
  const { link, calls } = await openAgent(url, device);
  cleanups.push(() => link.stop(1000));
  assert.equal(link.connection.protocolVersion, v5 ? 5 : 4, 'MQTT 5 when the broker has it, else the fallback to 3.1.1');

  // online, retained: a client that subscribes afterwards still gets it.
  const late = await observer(url, { protocolVersion: 4 }, [`${P}/status`]);
  const online = await late.next((m) => m.topic === `${P}/status`);
  assert.equal(online.payload.toString(), 'online');
  assert.equal(online.packet.retain, true);
  late.client.end(true);

  // results: QoS 0, with expiry under MQTT 5.
  assert.equal(link.publisher.result('cam1', sampleResult(7)), true);
  const result = await watcher.next((m) => m.topic === `${P}/cam1/result`);
  assert.equal(result.packet.qos, 0);
  assert.deepEqual(JSON.parse(result.payload.toString()), sampleResult(7));
  const expiry = result.packet.properties?.messageExpiryInterval;
  if (v5) assert.ok(expiry !== undefined && expiry >= 1 && expiry <= 10, `expiry ${expiry}`);
  else assert.equal(result.packet.properties, undefined);

  // masks: the PNG bytes; content type and frame_id under MQTT 5.
  assert.equal(link.publisher.mask('cam1', PNG_1X1, 42), true);
  const mask = await watcher.next((m) => m.topic === `${P}/cam1/mask`);
  assert.deepEqual(mask.payload, PNG_1X1);
  assert.equal(mask.packet.qos, 0);
  if (v5) {
    assert.equal(mask.packet.properties?.contentType, 'image/png');
    assert.deepEqual({ ...mask.packet.properties?.userProperties }, { frame_id: '42' });
  }

  // events: QoS 1 through the outbox.
  assert.deepEqual(await link.publisher.event(sampleEvent(1)), { ok: true, value: undefined });
  const event = await watcher.next((m) => m.topic === `${P}/cam1/events`);
  assert.equal(event.packet.qos, 1);
  assert.deepEqual(JSON.parse(event.payload.toString()), { ...sampleEvent(1), bbox: { x: 10, y: 20, w: 30, h: 40 } }, 'the box as x/y/w/h');

  // retune state: QoS 1, retained.
  await link.publisher.retuneState({ state: 'tuning', progress: 0.5, ts: 1 });
  const retune = await watcher.next((m) => m.topic === `${P}/retune/state`);
  assert.equal(retune.packet.qos, 1);
  assert.deepEqual(JSON.parse(retune.payload.toString()), { state: 'tuning', progress: 0.5, ts: 1 });

  // camera status: QoS 1, retained; the publisher stamps it.
  await link.publisher.cameraStatus('cam1', 'offline', 'no frame for 10 s');
  const camStatus = await watcher.next((m) => m.topic === `${P}/cam1/status`);
  assert.equal(camStatus.packet.qos, 1);
  assert.equal(JSON.parse(camStatus.payload.toString()).reason, 'no frame for 10 s');

  // 3.1.1 command: reply on P/cmd/<name>/reply with the request_id.
  const v4 = await observer(url, { protocolVersion: 4 }, [`${P}/cmd/+/reply`]);
  await v4.client.publishAsync(`${P}/cmd/status`, signedBody('status', 'v4-req-1'), { qos: 1 });
  const v4Reply = await v4.next((m) => m.topic === `${P}/cmd/status/reply`);
  assert.deepEqual(JSON.parse(v4Reply.payload.toString()), { ok: true, command: 'status', request_id: 'v4-req-1', result: { done: 'status' } });
  assert.deepEqual(calls, [['status', {}]]);

  // Refused commands: error reply, handler not called.
  const refused: Array<[string, string | Buffer, RegExp]> = [
    ['retune', '{"request_id": "bad-json",', /not valid JSON/],
    ['explode', signedBody('explode', 'unknown-1'), /unknown command "explode"/],
    ['retune', Buffer.alloc(70 * 1024, 0x20), /exceeds the 65536-byte limit/],
    ['retune', signedBody('rollback', 'wrong-sig-1'), /bad signature/],
    ['reload', JSON.stringify({ request_id: 'unsigned-1' }), /requires signed commands/],
  ];
  for (const [name, payload, expected] of refused) {
    const from = v4.got.length;
    await v4.client.publishAsync(`${P}/cmd/${name}`, payload, { qos: 1 });
    const reply = await v4.next((m) => m.topic === `${P}/cmd/${name}/reply`, from);
    const body = JSON.parse(reply.payload.toString());
    assert.equal(body.ok, false);
    assert.match(body.error, expected);
  }
  assert.deepEqual(calls, [['status', {}]], 'no refused command reached a handler');
  v4.client.end(true);

  const responses: Array<{ topic: string; payload: Buffer }> = [];
  if (v5) {
    // MQTT 5 command: reply on the response topic with the correlation data.
    const requester = await observer(url, { protocolVersion: 5 }, ['test/replies/1']);
    const correlationData = Buffer.from('corr-1');
    await requester.client.publishAsync(`${P}/cmd/retune`, signedBody('retune', 'v5-req-1'), {
      qos: 1,
      properties: { responseTopic: 'test/replies/1', correlationData },
    });
    const reply = await requester.next((m) => m.topic === 'test/replies/1');
    assert.deepEqual(reply.packet.properties?.correlationData, correlationData);
    assert.deepEqual(JSON.parse(reply.payload.toString()), { ok: true, command: 'retune', request_id: 'v5-req-1', result: { done: 'retune' } });
    await requester.client.publishAsync(`${P}/cmd/retune`, '{', {
      qos: 1,
      properties: { responseTopic: 'test/replies/1', correlationData: Buffer.from('corr-2') },
    });
    const bad = await requester.next((m) => m.topic === 'test/replies/1' && m.packet.properties?.correlationData?.toString() === 'corr-2');
    assert.equal(JSON.parse(bad.payload.toString()).ok, false);
    assert.deepEqual(calls, [
      ['status', {}],
      ['retune', {}],
    ]);
    responses.push(...requester.got);
    requester.client.end(true);
  }

  // Will: a client killed without DISCONNECT is announced offline.
  const killedDevice = `${device}-killed`;
  const child = spawnAgentChild(url, killedDevice);
  cleanups.push(() => child.kill('SIGKILL'));
  await watcher.next((m) => m.topic === `${PREFIX}/${killedDevice}/status` && m.payload.toString() === 'online');
  const from = watcher.got.length;
  child.kill('SIGKILL');
  const will = await watcher.next((m) => m.topic === `${PREFIX}/${killedDevice}/status`, from);
  assert.equal(will.payload.toString(), 'offline');

  // Graceful stop: `stopped` is what stays retained (no Will after a clean disconnect).
  await link.stop(5000);
  const afterStop = await observer(url, { protocolVersion: 4 }, [`${P}/status`]);
  assert.equal((await afterStop.next((m) => m.topic === `${P}/status`)).payload.toString(), 'stopped');
  afterStop.client.end(true);
  watcher.client.end(true);

  // Everything the agent published fits its channel of docs/asyncapi.json, and no topic is outside it.
  const report = checkPublished(CONTRACT, [...watcher.got, ...responses], ['test/replies/1']);
  assert.deepEqual(report.problems, []);
  const expected = ['status', 'result', 'mask', 'events', 'retuneState', 'cameraStatus', 'commandReply', ...(v5 ? ['commandResponse'] : [])];
  assert.deepEqual(Object.keys(report.checked).sort(), expected.sort(), 'every channel this run publishes on was checked');
}

async function withCleanups(fn: (cleanups: Array<() => unknown>) => Promise<void>) {
  const cleanups: Array<() => unknown> = [];
  try {
    await fn(cleanups);
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

describe('MQTT contract on aedes (speaks 3.1.1 only, so the agent falls back from 5)', () => {
  test('availability, results, masks, events, retune state, commands, Will, stop', TEST_TIMEOUT, async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    assert.ok(broker.ok);
    try {
      await withCleanups((cleanups) => checkContract(`mqtt://127.0.0.1:${broker.value.port}`, false, cleanups));
    } finally {
      await broker.value.stop();
    }
  });
});

describe('embedded broker and configuration errors', () => {
  test('url "embedded" starts aedes on loopback and connects to it; a taken port or a missing TLS file is an error naming the key', TEST_TIMEOUT, async () => {
    const dispatcher = createCommandDispatcher(recordingHandlers().handlers, { secret: null });
    const link = await openLink('embedded', 'dev-embedded', await tempDir(), dispatcher);
    assert.ok(link.ok, link.ok ? '' : link.error);
    try {
      await untilConnected(link.value, true);
      assert.equal(link.value.broker?.host, '127.0.0.1');
      assert.equal(link.value.connection.protocolVersion, 4);
      const taken = await startEmbeddedBroker({ port: link.value.broker?.port ?? 0 });
      assert.equal(taken.ok, false);
      assert.match((taken as { error: string }).error, /cannot listen on 127\.0\.0\.1:\d+: the port is already in use/);
    } finally {
      await link.value.stop(2000);
    }
    const missing = await openLink('mqtts://127.0.0.1:8883', 'dev-tls', await tempDir(), dispatcher, { ca: '/nonexistent/ca.crt' });
    assert.deepEqual(missing, { ok: false, error: 'mqtt.ca: cannot read "/nonexistent/ca.crt": no such file' });
    const plain = await openLink('mqtt://127.0.0.1:1883', 'dev-tls', await tempDir(), dispatcher, { ca: '/etc/hostname' });
    assert.match((plain as { error: string }).error, /mqtt\.ca is set but mqtt\.url "mqtt:\/\/127\.0\.0\.1:1883" is not mqtts:\/\//);
    const half = await openLink('mqtts://127.0.0.1:8883', 'dev-tls', await tempDir(), dispatcher, { cert: '/etc/hostname' });
    assert.match((half as { error: string }).error, /mqtt\.cert and mqtt\.key go together/);
  });
});

const mosquittoBin = findExecutable('mosquitto');
const opensslBin = findExecutable('openssl');
const passwdBin = findExecutable('mosquitto_passwd');
const skipMosquitto = mosquittoBin ? false : 'mosquitto is not installed (Debian: apt-get install mosquitto)';

describe('MQTT contract on mosquitto (MQTT 5)', { skip: skipMosquitto }, () => {
  test('availability, results, masks, events, retune state, commands with correlation data, Will, stop', TEST_TIMEOUT, async () => {
    const broker = await startMosquitto(mosquittoBin as string);
    try {
      await withCleanups((cleanups) => checkContract(broker.url, true, cleanups));
    } finally {
      await broker.stop();
    }
  });

  test('broker stopped for seconds and restarted: every outbox event is delivered, results resume', TEST_TIMEOUT, async () => {
    const broker = await startMosquitto(mosquittoBin as string);
    const P = `${PREFIX}/dev-outage`;
    // A persistent session: the watcher's queue survives the broker restart, whoever reconnects first.
    const watcher = await observer(broker.url, { protocolVersion: 5, clientId: 'outage-watcher', clean: false, properties: { sessionExpiryInterval: 3600 } }, [
      `${P}/#`,
    ]);
    const { link } = await openAgent(broker.url, 'dev-outage');
    try {
      for (const n of [1, 2]) await link.publisher.event(sampleEvent(n));
      await watcher.next((m) => m.topic === `${P}/cam1/events` && JSON.parse(m.payload.toString()).id === 'ev-2');

      await broker.stop();
      await untilConnected(link, false);
      assert.equal(link.publisher.result('cam1', sampleResult(1)), false, 'no results while the broker is away');
      for (const n of [3, 4, 5, 6, 7]) await link.publisher.event(sampleEvent(n));
      assert.equal(link.outbox.depth, 5);
      await sleep(3000); // the broker stays away for a few seconds
      await broker.start();

      await watcher.next((m) => m.topic === `${P}/cam1/events` && JSON.parse(m.payload.toString()).id === 'ev-7');
      const ids = watcher.got.filter((m) => m.topic === `${P}/cam1/events`).map((m) => JSON.parse(m.payload.toString()).id as string);
      const firstSeen = ids.filter((id, i) => ids.indexOf(id) === i);
      assert.deepEqual(firstSeen, ['ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5', 'ev-6', 'ev-7']);
      assert.equal(await link.outbox.drain(30_000), 0);

      await untilConnected(link, true);
      assert.equal(link.publisher.result('cam1', sampleResult(2)), true);
      const resumed = await watcher.next((m) => m.topic === `${P}/cam1/result`);
      assert.equal(JSON.parse(resumed.payload.toString()).frame_id, 2);
    } finally {
      await link.stop(2000);
      watcher.client.end(true);
      await broker.stop();
    }
  });

  test('TLS with a private CA and a password: the agent connects with the configured files, a wrong password is refused', {
    ...TEST_TIMEOUT,
    skip: opensslBin && passwdBin ? false : 'openssl or mosquitto_passwd is not installed',
  }, async () => {
    const dir = await tempDir();
    const files = makeCertificates(opensslBin as string, dir);
    const passwords = path.join(dir, 'passwords');
    execFileSync(passwdBin as string, ['-b', '-c', passwords, 'agent', 's3cret'], { stdio: 'ignore' });
    const security = [`cafile ${files.ca}`, `certfile ${files.cert}`, `keyfile ${files.key}`, 'allow_anonymous false', `password_file ${passwords}`];
    const broker = await startMosquitto(mosquittoBin as string, security, 'mqtts');
    try {
      const ca = readFileSync(files.ca);
      const refusal = await new Promise<unknown>((resolve) => {
        const c = mqtt.connect(broker.url, { ca, username: 'agent', password: 'wrong', protocolVersion: 5, reconnectPeriod: 0 });
        c.once('error', (e: Error & { code?: unknown }) => (c.end(true), resolve(e.code)));
      });
      // mosquitto 2.0 answers 135 "not authorized"; 134 "bad user name or password" would do as well.
      assert.ok(refusal === 134 || refusal === 135, `refused with reason code ${refusal}`);

      const { link } = await openAgent(broker.url, 'dev-tls', { ca: files.ca, username: 'agent', password: 's3cret' });
      try {
        assert.equal(link.connection.protocolVersion, 5);
        const watcher = await observer(broker.url, { ca, username: 'agent', password: 's3cret', protocolVersion: 5 }, [`${PREFIX}/dev-tls/status`]);
        assert.equal((await watcher.next((m) => m.topic === `${PREFIX}/dev-tls/status`)).payload.toString(), 'online');
        watcher.client.end(true);
      } finally {
        await link.stop(2000);
      }
    } finally {
      await broker.stop();
    }
  });
});

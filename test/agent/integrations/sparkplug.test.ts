// The agent as a Sparkplug B edge node, against a real mosquitto, with the agent as a child process
// (`dir:` camera, tiny fixture bundle). The test plays the host application: every Sparkplug
// message is decoded with Eclipse Tahu's sparkplug-payload, and commands are encoded with it.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import sparkplugPayload from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { createCommandDispatcher } from '../../../agent/commands/dispatcher.ts';
import { signCommand } from '../../../agent/commands/signature.ts';
import type { ResultPayload, RetuneStatePayload } from '../../../agent/contract/payloads.ts';
import { startSparkplugEdgeNode } from '../../../agent/integrations/sparkplug/edge-node.ts';
import { connectMqtt } from '../../../agent/mqtt/connection.ts';
import { DEMO_FRAMES, startAgentProcess } from '../../support/agent-process.ts';
import { findExecutable, observer, type Received, sleep, startMosquitto, tempDir } from '../../support/mqtt-harness.ts';
import { recordingHandlers } from '../../support/recording-handlers.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';

const HANG_GUARD = { timeout: 300_000 }; // not a speed assertion: a hung agent must not hang CI
const mosquitto = findExecutable('mosquitto');
const sparkplug = sparkplugPayload.get('spBv1.0')!;
const SP = 'spBv1.0/plant1';

interface Decoded {
  topic: string;
  type: string;
  device?: string;
  payload: UPayload;
  seq: number | null;
  qos: number;
  retain: boolean;
}

/** Long (protobuf 64-bit) or number, as a number. */
const num = (v: unknown): number => (typeof v === 'number' ? v : Number((v as { toString(): string }).toString()));

function decode(m: Received): Decoded {
  const [, , type, , device] = m.topic.split('/');
  const payload = sparkplug.decodePayload(m.payload);
  return {
    topic: m.topic,
    type,
    device,
    payload,
    seq: payload.seq === undefined || payload.seq === null ? null : num(payload.seq),
    qos: m.packet.qos,
    retain: m.packet.retain,
  };
}

const metric = (d: Decoded, name: string): UMetric | undefined => d.payload.metrics?.find((x) => x.name === name);
const value = (d: Decoded, name: string) => {
  const m = metric(d, name);
  assert.ok(m, `${d.type} has no metric ${name}: ${JSON.stringify(d.payload.metrics?.map((x) => x.name))}`);
  return typeof m.value === 'object' && m.value !== null ? num(m.value) : m.value;
};
const command = (metrics: UMetric[]) => Buffer.from(sparkplug.encodePayload({ timestamp: Date.now(), metrics }));

async function agentConfig(dir: string, url: string, extra = ''): Promise<string> {
  const bundle = await buildTinyBundle(path.join(dir, 'bundle'));
  const file = path.join(dir, 'agent.yaml');
  await fs.writeFile(
    file,
    `device_id: cell7
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${url}", topic_prefix: lw, protocol_version: 5 }
cameras:
  line: { source: "${DEMO_FRAMES}", fps: 4 }
detector: { publish_masks: never, result_rate_hz: 100 }
retune: { cron: null, min_normals: 2, max_normals: 4, steps: 5, min_interval_s: 0, sample_interval_s: 0 }
http: { enabled: false }
integrations: { sparkplug: { enabled: true, group_id: plant1 } }
${extra}`,
  );
  return file;
}

describe('Sparkplug B edge node', { skip: !mosquitto ? 'mosquitto is not installed' : false }, () => {
  test('births with bdSeq, DDATA from results, rebirth, DCMD re-tune, DDEATH, NDEATH as the Will of each session', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const config = await agentConfig(dir, broker.url);
    const host = await observer(broker.url, { protocolVersion: 5, clientId: 'scada' }, [`${SP}/#`, 'lw/cell7/#']);
    const sp = (from = 0) =>
      host.got
        .slice(from)
        .filter((m) => m.topic.startsWith('spBv1.0/'))
        .map(decode);
    const nextSp = async (match: (d: Decoded) => boolean, from = 0) => decode(await host.next((m) => m.topic.startsWith('spBv1.0/') && match(decode(m)), from));

    const agent = startAgentProcess(config);
    t.after(() => agent.child.kill('SIGKILL'));

    // NBIRTH: seq 0, bdSeq 0 (the first CONNECT), Node Control/Rebirth false; then the camera's DBIRTH
    const nbirth = await nextSp((d) => d.type === 'NBIRTH');
    assert.equal(nbirth.topic, `${SP}/NBIRTH/cell7`, 'edge node id defaults to device_id');
    assert.equal(nbirth.seq, 0);
    assert.equal(value(nbirth, 'bdSeq'), 0);
    assert.equal(value(nbirth, 'Node Control/Rebirth'), false);
    assert.equal(metric(nbirth, 'Node Control/Rebirth')!.type, 'Boolean');
    const dbirth = await nextSp((d) => d.type === 'DBIRTH');
    assert.equal(dbirth.topic, `${SP}/DBIRTH/cell7/line`);
    assert.deepEqual(dbirth.payload.metrics!.map((m) => m.name).sort(), [
      'Device Control/Rebirth',
      'Device Control/Retune',
      'anomalous',
      'fps',
      'prompt_set',
      'score',
      'state',
      'threshold',
    ]);
    assert.equal(value(dbirth, 'state'), 'online');

    // DDATA carries the scores the contract published, only changed metrics
    const ddata = await nextSp((d) => d.type === 'DDATA' && metric(d, 'score') !== undefined);
    const scores = new Set(host.got.filter((m) => m.topic === 'lw/cell7/line/result').map((m) => (JSON.parse(m.payload.toString()) as ResultPayload).score));
    assert.ok(scores.has(value(ddata, 'score') as number), `DDATA score ${value(ddata, 'score')} is one the agent published (${[...scores].join(', ')})`);
    assert.equal(metric(ddata, 'state'), undefined, 'an unchanged metric is not repeated');

    // NCMD rebirth: the birth sequence again, seq restarting at 0, the same bdSeq
    let from = host.got.length;
    await host.client.publishAsync(`${SP}/NCMD/cell7`, command([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]), { qos: 0 });
    const reborn = await nextSp((d) => d.type === 'NBIRTH', from);
    assert.equal(reborn.seq, 0);
    assert.equal(value(reborn, 'bdSeq'), 0);
    await nextSp((d) => d.type === 'DBIRTH', from);

    // DCMD Device Control/Retune -> a re-tune of that camera through the dispatcher
    from = host.got.length;
    await host.client.publishAsync(`${SP}/DCMD/cell7/line`, command([{ name: 'Device Control/Retune', type: 'Boolean', value: true }]), { qos: 0 });
    const job = JSON.parse(
      (await host.next((m) => m.topic === 'lw/cell7/retune/state' && JSON.parse(m.payload.toString()).job_id !== undefined, from)).payload.toString(),
    ) as RetuneStatePayload;
    assert.equal(job.camera, 'line');
    assert.equal(job.trigger, 'command');

    // camera disabled -> DDEATH; enabled -> DBIRTH
    from = host.got.length;
    await host.client.publishAsync('lw/cell7/cmd/set', JSON.stringify({ camera: 'line', enabled: false }), { qos: 1 });
    const ddeath = await nextSp((d) => d.type === 'DDEATH', from);
    assert.equal(ddeath.topic, `${SP}/DDEATH/cell7/line`);
    await host.client.publishAsync('lw/cell7/cmd/set', JSON.stringify({ camera: 'line', enabled: true }), { qos: 1 });
    const again = await nextSp((d) => d.type === 'DBIRTH', from);
    assert.equal(value(again, 'state'), 'online');

    // broker restart: a new CONNECT -> bdSeq 1 in the NBIRTH, and the Will carries it too
    const firstSession = sp();
    await broker.stop();
    await broker.start();
    from = host.got.length;
    const second = await nextSp((d) => d.type === 'NBIRTH', from);
    assert.equal(value(second, 'bdSeq'), 1);
    await nextSp((d) => d.type === 'DDATA', from);
    agent.child.kill('SIGKILL');
    const will = await nextSp((d) => d.type === 'NDEATH', from);
    assert.equal(will.topic, `${SP}/NDEATH/cell7`);
    assert.equal(value(will, 'bdSeq'), 1, 'the Will is the NDEATH of the session that ended');
    assert.equal(will.seq, null, 'NDEATH has no seq');
    assert.deepEqual(
      will.payload.metrics!.map((m) => m.name),
      ['bdSeq'],
    );
    await agent.exited;

    // every message of a session numbered seq + 1 from its NBIRTH's 0 (messages sent into the
    // dying link may be lost, so only the first session is checked); QoS 0, not retained, but NDEATH
    const all = [...firstSession, will];
    let expected: number | null = null;
    for (const d of all) {
      if (d.type === 'NDEATH') {
        assert.equal(d.qos, 1);
        continue;
      }
      assert.equal(d.qos, 0, `${d.type} QoS`);
      assert.equal(d.retain, false);
      if (d.type === 'NBIRTH') expected = 0;
      if (expected === null || d.type === 'NCMD' || d.type === 'DCMD') continue; // the host's own commands
      assert.equal(d.seq, expected, `${d.type} seq after ${all.indexOf(d)} messages`);
      expected = (expected + 1) % 256;
    }

    // a graceful stop says NDEATH itself, before its clean DISCONNECT
    const restarted = startAgentProcess(config);
    t.after(() => restarted.child.kill('SIGKILL'));
    from = host.got.length;
    const third = await nextSp((d) => d.type === 'NBIRTH', from);
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    const bye = await nextSp((d) => d.type === 'NDEATH', from);
    assert.equal(value(bye, 'bdSeq'), value(third, 'bdSeq'));
  });

  test('a broker that refuses the Sparkplug session does not stop the agent', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    // Only client ids starting "linewatch-cell7" may connect: the agent's main session, not its
    // Sparkplug session (linewatch-spb-cell7).
    const broker = await startMosquitto(mosquitto!, ['allow_anonymous true', 'clientid_prefixes linewatch-cell7']);
    t.after(() => broker.stop());
    const config = await agentConfig(dir, broker.url);
    const watch = await observer(broker.url, { protocolVersion: 5, clientId: 'linewatch-cell7-watch' }, ['spBv1.0/#', 'lw/cell7/#']);
    const agent = startAgentProcess(config);
    t.after(() => agent.child.kill('SIGKILL'));
    await watch.next((m) => m.topic === 'lw/cell7/status' && m.payload.toString() === 'online');
    await watch.next((m) => m.topic === 'lw/cell7/line/result');
    const from = watch.got.length;
    await watch.client.publishAsync('lw/cell7/cmd/status', '{}', { qos: 1 });
    const reply = JSON.parse((await watch.next((m) => m.topic === 'lw/cell7/cmd/status/reply', from)).payload.toString()) as { ok: boolean };
    assert.equal(reply.ok, true);
    const refused = agent.log.find((l) => l.includes('MQTT connection problem') && l.includes('linewatch-spb-cell7'));
    assert.ok(refused, agent.log.join('\n'));
    assert.equal(agent.child.exitCode, null, 'still running');
    assert.equal(watch.got.filter((m) => m.topic.startsWith('spBv1.0/')).length, 0);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
  });

  test('with a command secret: no re-tune metric, an unsigned DCMD re-tune is refused; a malformed command is ignored', HANG_GUARD, async (t) => {
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const secret = 'sparkplug-test-secret-0123456789';
    const { calls, handlers } = recordingHandlers();
    const host = await observer(broker.url, { protocolVersion: 5, clientId: 'scada' }, [`${SP}/#`]);
    const node = startSparkplugEdgeNode({
      groupId: 'plant1',
      edgeNodeId: 'edge9',
      cameras: ['line'],
      signedCommands: true,
      dispatcher: createCommandDispatcher(handlers, { secret }),
      openSession: (clientId, announcements, maxReconnectPeriodMs) =>
        connectMqtt({ url: broker.url, clientId, username: null, password: null, tls: {}, protocolVersion: 5, announcements, maxReconnectPeriodMs }),
    });
    t.after(() => node.stop(1000));
    await host.next((m) => m.topic === `${SP}/NBIRTH/edge9`);
    node.onCameraStatus!('line', 'online');
    const dbirth = decode(await host.next((m) => m.topic === `${SP}/DBIRTH/edge9/line`));
    assert.equal(metric(dbirth, 'Device Control/Retune'), undefined, 'not offered: it could not be signed');

    await host.client.publishAsync(`${SP}/NCMD/edge9`, Buffer.from('not protobuf'), { qos: 0 });
    await host.client.publishAsync(`${SP}/DCMD/edge9/line`, command([{ name: 'Device Control/Retune', type: 'Boolean', value: true }]), { qos: 0 });
    const from = host.got.length;
    await host.client.publishAsync(`${SP}/NCMD/edge9`, command([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]), { qos: 0 });
    await host.next((m) => m.topic === `${SP}/NBIRTH/edge9`, from);
    await sleep(200); // the DCMD went in before the rebirth; give its dispatch a moment
    assert.deepEqual(calls, [], 'the unsigned re-tune never reached a handler');
    // the dispatcher itself takes a signed re-tune: it is the signature that was missing
    const signed = await createCommandDispatcher(handlers, { secret }).dispatch({
      name: 'retune',
      payload: JSON.stringify(signCommand(secret, 'retune', { camera: 'line' })),
    });
    assert.equal(signed.ok, true);
  });
});

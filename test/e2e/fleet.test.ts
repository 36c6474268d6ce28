// A line of stations on one broker, as deploy/compose.line.yaml runs them: three `linewatch run`
// processes with distinct device ids on one real mosquitto keep to their own topics, and an agent
// started with a device_id already on the broker stops with a clear error instead of taking the
// MQTT client id over in a loop. A restarted device (clean stop, SIGKILL, a claim left retained by
// a session that is gone) must not mistake its own old claim for another agent.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../agent/config.ts';
import type { AgentState } from '../../agent/http/agent-view.ts';
import { type AgentProcess, DEMO_FRAMES, startAgentProcess } from '../support/agent-process.ts';
import { findExecutable, freePort, observer, type Received, sleep, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { buildTinyBundle } from '../support/tiny-bundle.ts';

const HANG_GUARD = { timeout: 300_000 }; // not a speed assertion: a hung agent must not hang CI
const SECRET = 'fleet-test-secret-0123456789';
const mosquitto = findExecutable('mosquitto');

interface Station {
  deviceId: string;
  camera: string;
  httpPort: number;
  config: string;
}

let bundle = '';
let root = '';

/** A station's configuration file: its own device id, camera and data_dir, the shared broker. */
async function station(brokerUrl: string, deviceId: string, camera = `${deviceId}-cam`): Promise<Station> {
  const httpPort = await freePort();
  const config = path.join(root, `${deviceId}-${httpPort}.yaml`);
  await fs.writeFile(
    config,
    `device_id: ${deviceId}
data_dir: ${path.join(root, `${deviceId}-${httpPort}`)}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${brokerUrl}", topic_prefix: lw, protocol_version: 5, command_secret: ${SECRET} }
cameras:
  ${camera}: { source: "${DEMO_FRAMES}", fps: 2 }
detector: { result_rate_hz: 10 }
retune: { cron: null }
http: { port: ${httpPort} }
`,
  );
  return { deviceId, camera, httpPort, config };
}

async function state(s: Station): Promise<AgentState | null> {
  return fetch(`http://127.0.0.1:${s.httpPort}/api/state`).then(
    (r) => r.json() as Promise<AgentState>,
    () => null,
  );
}

/** Resolves once the agent's page says it is connected and its camera has scored a frame. */
async function running(s: Station, agent: AgentProcess): Promise<void> {
  for (;;) {
    if (agent.child.exitCode !== null) assert.fail(`${s.deviceId} exited with ${agent.child.exitCode}: ${agent.log.join('\n')}`);
    const st = await state(s);
    if (st?.mqtt_connected && st.cameras.some((c) => c.frame_id !== null)) return;
    await sleep(300);
  }
}

/** The exit code, or 'still running' after `ms` (generous: a refusal takes seconds, a loop forever). */
const exitWithin = (agent: AgentProcess, ms = 90_000) => Promise.race([agent.exited, sleep(ms).then(() => 'still running' as const)]);

const lostLink = (agent: AgentProcess) => agent.log.filter((l) => /lost the MQTT broker/.test(l));

describe('a line of stations on one mosquitto', { skip: mosquitto ? false : 'mosquitto is not installed' }, () => {
  before(async () => {
    root = await tempDir();
    bundle = await buildTinyBundle(path.join(root, 'bundle'));
  });

  test('three agents with distinct ids keep to their topics; a fourth with a taken id is refused', HANG_GUARD, async (t) => {
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const watch = await observer(broker.url, { protocolVersion: 5, clientId: 'plant' }, ['lw/#']);
    const stations = await Promise.all(['cell1', 'cell2', 'cell3'].map((id) => station(broker.url, id)));
    const agents = stations.map((s) => startAgentProcess(s.config));
    await Promise.all(stations.map((s, i) => running(s, agents[i])));
    await Promise.all(stations.map((s) => watch.next((m) => m.topic === `lw/${s.deviceId}/${s.camera}/result`)));

    // A second cell2 (its own data_dir and port, the same device_id) stops with exit code 1.
    const twin = await station(broker.url, 'cell2', 'cell2-cam');
    const from = watch.got.length;
    const duplicate = startAgentProcess(twin.config);
    assert.equal(await exitWithin(duplicate), 1, duplicate.log.join('\n'));
    const said = duplicate.log.join('\n');
    assert.match(said, /another agent with device_id cell2 is connected to the broker/);
    assert.match(said, /give this device its own device_id/);
    assert.match(said, /cameras: cell2-cam/, 'the message says which agent holds the id');
    assert.doesNotMatch(said, new RegExp(SECRET));

    // The first cell2 was never knocked off: no Will, no reconnect, still scoring.
    await sleep(3000);
    const cell2Status = watch.got
      .slice(from)
      .filter((m) => m.topic === 'lw/cell2/status')
      .map((m) => m.payload.toString());
    assert.deepEqual(cell2Status, [], 'the availability of cell2 did not change');
    assert.deepEqual(lostLink(agents[1]), []);
    const before = (await state(stations[1]))!.cameras[0].frame_id!;
    await watch.next(
      (m) => m.topic === 'lw/cell2/cell2-cam/result' && (JSON.parse(m.payload.toString()) as { frame_id: number }).frame_id > before,
      watch.got.length,
    );

    // Topics are disjoint: under each device's prefix only its own camera appears.
    const byDevice = new Map<string, Set<string>>();
    for (const m of watch.got) {
      const [, device, second] = m.topic.split('/');
      if (!byDevice.has(device)) byDevice.set(device, new Set());
      if (m.topic.endsWith('/result') || m.topic.endsWith('/mask')) byDevice.get(device)!.add(second);
    }
    assert.deepEqual([...byDevice.keys()].sort(), ['cell1', 'cell2', 'cell3']);
    for (const s of stations) assert.deepEqual([...byDevice.get(s.deviceId)!], [s.camera], `cameras publishing under lw/${s.deviceId}`);
    for (const a of agents) assert.deepEqual(lostLink(a), []);

    for (const a of agents) a.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all(agents.map((a) => a.exited)), [0, 0, 0]);
  });

  test('a restarted device is not refused: after a clean stop, after SIGKILL, and over a stale retained claim', HANG_GUARD, async (t) => {
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const watch = await observer(broker.url, { protocolVersion: 5, clientId: 'plant' }, ['lw/cell9/status']);
    const s = await station(broker.url, 'cell9');
    const statusAfter = (from: number, payload: string) => watch.next((m: Received) => m.payload.toString() === payload, from);

    let agent = startAgentProcess(s.config);
    await running(s, agent);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);

    let from = watch.got.length;
    agent = startAgentProcess(s.config);
    await running(s, agent);
    await statusAfter(from, 'online');
    from = watch.got.length;
    agent.child.kill('SIGKILL');
    await agent.exited;
    await statusAfter(from, 'offline'); // the Will

    agent = startAgentProcess(s.config);
    await running(s, agent);
    agent.child.kill('SIGKILL');
    await agent.exited;

    // `online` retained by a session the broker still believes in (a power cut): nobody answers.
    const ghost = await mqtt.connectAsync(broker.url, { clientId: 'ghost-of-cell9' });
    await ghost.publishAsync('lw/cell9/status', 'online', { qos: 1, retain: true });
    await ghost.endAsync();
    agent = startAgentProcess(s.config);
    await running(s, agent);
    assert.ok(
      agent.log.some((l) => /claim .* nobody answered/.test(l)),
      agent.log.join('\n'),
    );
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
  });

  test('an agent whose client id is taken over while running stops with exit code 1 instead of taking it back in a loop', HANG_GUARD, async (t) => {
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const s = await station(broker.url, 'cell5');
    const agent = startAgentProcess(s.config);
    await running(s, agent);

    // Stand-in for an agent that connects without checking (an older linewatch, or one that
    // started at the same moment): it takes the client id over, says online and answers `status`.
    // Its answering side is subscribed before the take-over, as a running agent's subscription
    // is: the agent's status command would otherwise race the stand-in's SUBSCRIBE to the broker.
    const answers = mqtt.connect(broker.url, { clientId: 'stand-in-answers', reconnectPeriod: 0 });
    t.after(() => answers.end(true));
    await answers.subscribeAsync('lw/cell5/cmd/status', { qos: 1 });
    answers.on('message', (_topic, payload) => {
      const { request_id } = JSON.parse(payload.toString()) as { request_id?: string };
      answers.publish('lw/cell5/cmd/status/reply', JSON.stringify({ ok: true, command: 'status', request_id, result: { cameras: { other: {} } } }), { qos: 1 });
    });
    const other = mqtt.connect(broker.url, { clientId: 'linewatch-cell5', reconnectPeriod: 0 });
    t.after(() => other.end(true));
    let takenBack = 0;
    other.on('close', () => takenBack++);
    other.publish('lw/cell5/status', 'online', { qos: 1, retain: true });

    assert.equal(await exitWithin(agent), 1, agent.log.join('\n'));
    assert.match(agent.log.join('\n'), /another agent with device_id cell5 is connected to the broker/);
    assert.equal(takenBack, 0, 'the agent did not take its client id back');
  });
});

/**
 * Loads `config` as the agent does, with `env` as the environment. The CA certificate lives at a
 * path the container mounts; a real PEM file stands in for it here (the tests check the mount).
 */
async function validated(config: string, env: Record<string, string>) {
  const dir = await tempDir();
  const file = path.join(dir, 'config.yaml');
  await fs.writeFile(file, config);
  const ca = path.join(dir, 'ca.crt');
  await fs.writeFile(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  const caPath = (parse(config) as { mqtt: { ca: string } }).mqtt.ca;
  const loaded = loadConfig(file, { ...env, LINEWATCH_MQTT_CA: ca });
  if (!loaded.ok) assert.fail(`the configuration does not validate:\n${loaded.error}`);
  return { ...loaded.value, caPath };
}

describe('the deployment files embed configurations the agent accepts', () => {
  test('compose.line.yaml: three stations with distinct device ids and MQTT users on one broker', async () => {
    // `merge`: the stations share their settings through a YAML merge key, as docker compose reads it.
    const compose = parse(await fs.readFile(path.join(REPO_ROOT, 'deploy/compose.line.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; configs?: { source: string }[]; volumes?: string[] }>;
      configs: Record<string, { content: string }>;
    };
    const stations = Object.entries(compose.services).filter(([, s]) => s.configs?.some((c) => c.source === 'station-config'));
    assert.equal(stations.length, 3);
    const ids = new Set<string>();
    for (const [name, s] of stations) {
      // env_file supplies the secrets; stand-ins of the right shape here
      const env = { ...s.environment!, LINEWATCH_MQTT_PASSWORD: 'station-password', LINEWATCH_MQTT_COMMAND_SECRET: 'a-command-secret-of-32-characters' };
      const cfg = await validated(compose.configs['station-config'].content, env);
      assert.equal(cfg.mqtt.username, cfg.device_id, `${name}: the broker's ACL (linewatch/%u/#) needs username = device_id`);
      assert.ok(cfg.http.allowed_hosts.includes(name), `${name}: Prometheus scrapes it as ${name}:8080`);
      assert.equal(cfg.mqtt.url, 'mqtts://broker:8883');
      assert.ok(
        s.volumes?.some((v) => v.endsWith(`:${cfg.caPath}:ro`)),
        `${name} mounts the CA at ${cfg.caPath}`,
      );
      assert.ok(
        s.volumes?.some((v) => v.endsWith(`:${cfg.data_dir}`)),
        `${name} has a data volume at ${cfg.data_dir}`,
      );
      ids.add(cfg.device_id);
    }
    assert.equal(ids.size, 3, 'each station has its own device_id');
  });

  test('k8s: the ConfigMap with the DaemonSet environment validates; runtime class, probes with a Host header, data volume', async () => {
    const read = async (f: string) => parseAllDocuments(await fs.readFile(path.join(REPO_ROOT, 'deploy/k8s', f), 'utf8')).map((d) => d.toJS());
    const [configMap] = await read('configmap.yaml');
    const [secret] = await read('secret.yaml');
    const [ds] = await read('daemonset.yaml');
    const pod = ds.spec.template.spec;
    assert.equal(pod.runtimeClassName, 'nvidia');
    assert.equal(pod.nodeSelector['kubernetes.io/arch'], 'arm64');
    const [container] = pod.containers;
    // The environment as the kubelet builds it: field refs, secret refs, then $(VAR) expansion.
    const fields: Record<string, string> = { 'spec.nodeName': 'jetson-07', 'status.podIP': '10.42.0.17' };
    const env: Record<string, string> = {};
    for (const e of container.env as {
      name: string;
      value?: string;
      valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
    }[]) {
      if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath];
      else if (e.valueFrom?.secretKeyRef) {
        assert.equal(e.valueFrom.secretKeyRef.name, secret.metadata.name);
        env[e.name] = secret.stringData[e.valueFrom.secretKeyRef.key];
      } else env[e.name] = e.value!.replace(/\$\((\w+)\)/g, (_m, v: string) => env[v]);
    }
    const cfg = await validated(configMap.data['config.yaml'], env);
    assert.equal(cfg.device_id, 'jetson-07');
    assert.equal(cfg.mqtt.username, 'jetson-07');
    assert.deepEqual(cfg.http.allowed_hosts, ['10.42.0.17']);
    assert.equal(cfg.mqtt.command_secret, secret.stringData['command-secret']);
    assert.ok(!JSON.stringify(configMap).includes(secret.stringData.password), 'no secret in the ConfigMap');
    assert.equal(cfg.http.host, '0.0.0.0');

    const mounts = Object.fromEntries((container.volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries((pod.volumes as { name: string; hostPath?: unknown; configMap?: { name: string } }[]).map((v) => [v.name, v]));
    assert.ok(volumes[mounts[cfg.data_dir]].hostPath, "data_dir is the node's own directory");
    assert.equal(volumes[mounts['/etc/linewatch/config.yaml']].configMap?.name, configMap.metadata.name);
    const caVolume = volumes[mounts[path.dirname(cfg.caPath)]] as { secret?: { secretName: string; items: { key: string; path: string }[] } };
    assert.equal(caVolume.secret?.secretName, secret.metadata.name);
    assert.ok(
      caVolume.secret?.items.some((i) => i.path === path.basename(cfg.caPath) && secret.stringData[i.key]),
      'the CA file comes from the Secret',
    );
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const headers = container[probe].httpGet.httpHeaders as { name: string; value: string }[];
      assert.deepEqual(headers, [{ name: 'Host', value: `localhost:${cfg.http.port}` }], `${probe} sends a Host the agent answers`);
    }
    assert.equal(container.readinessProbe.httpGet.path, '/healthz');
  });
});

// The agent as a user runs it: `linewatch run` as a child process, with a real broker (mosquitto;
// aedes for the embedded default), a real ffmpeg camera over a clip the test generates, and a
// bundle built from the tiny fixture CLIP. Commands, outage, re-tuning and shutdown end to end.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { signCommand } from '../../agent/commands/signature.ts';
import type { EventPayload, ResultPayload, RetuneStatePayload } from '../../agent/contract/payloads.ts';
import type { AgentState } from '../../agent/http/agent-view.ts';
import { buildBundle } from '../../models/bundle/build.ts';
import { stateUntil } from '../support/agent-state.ts';
import { checkPublished, loadContractChannels } from '../support/asyncapi-channels.ts';
import { findExecutable, freePort, observer, type Received, sleep, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');
const SECRET = 'agent-test-secret-0123456789';
const HANG_GUARD = { timeout: 240_000 }; // not a speed assertion: a hung agent must not hang CI

const agents = new Set<ChildProcess>();
after(() => {
  for (const a of agents) a.kill('SIGKILL');
});

interface RunningAgent {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

function startAgent(config: string, env: Record<string, string> = {}): RunningAgent {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  agents.add(child);
  const log: string[] = [];
  child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (agents.delete(child), resolve(code))));
  return { child, log, exited };
}

const json = <T>(m: Received) => JSON.parse(m.payload.toString()) as T;

async function postCommand(port: number, name: string, body: object): Promise<{ status: number; reply: { ok: boolean; error?: string; result?: unknown } }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cmd/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, reply: (await res.json()) as { ok: boolean; error?: string } };
}

const mosquitto = findExecutable('mosquitto');
const ffmpeg = findExecutable('ffmpeg');

describe('agent with mosquitto and an ffmpeg camera', { skip: !mosquitto ? 'mosquitto is not installed' : !ffmpeg ? 'ffmpeg is not installed' : false }, () => {
  test('results, masks, signed commands, broker outage, re-tune and shutdown', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);
    const clip = path.join(dir, 'line.mp4');
    execFileSync(ffmpeg!, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'smptebars=s=128x96:r=10', '-t', '3', '-pix_fmt', 'yuv420p', clip]);
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const httpPort = await freePort();
    const config = path.join(dir, 'agent.yaml');
    await fs.writeFile(
      config,
      `device_id: cell7
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", topic_prefix: lw, command_secret: ${SECRET}, protocol_version: 5 }
cameras:
  line: { source: ${clip}, fps: 5, roi: [0, 0, 96, 96] }
detector: { event_open_frames: 1, event_close_frames: 1, publish_masks: always, result_rate_hz: 100, event_update_interval_s: 60 }
retune: { cron: null, min_normals: 12, max_normals: 16, steps: 10, min_interval_s: 0, sample_interval_s: 0.2 }
http: { port: ${httpPort} }
`,
    );
    const watch = await observer(broker.url, { protocolVersion: 5, clientId: 'plant' }, ['lw/cell7/#']);
    const agent = startAgent(config);
    t.after(() => agent.child.kill('SIGKILL'));

    // availability, camera status and a well-formed result with its mask
    await watch.next((m) => m.topic === 'lw/cell7/status' && m.payload.toString() === 'online');
    await watch.next((m) => m.topic === 'lw/cell7/line/status' && json<{ state: string }>(m).state === 'online');
    const result = json<ResultPayload>(await watch.next((m) => m.topic === 'lw/cell7/line/result'));
    assert.equal(result.prompt_set, 'meta-prompts-zero-shot');
    assert.ok(result.score >= 0 && result.score <= 1 && result.raw_score >= 0 && result.raw_score <= 1);
    // Before the first tuning the prompt scorer alone scores: its raw score is the raw score.
    assert.deepEqual(result.scores, { prompt: result.raw_score });
    assert.ok(result.latency_ms.infer > 0);
    const mask = await watch.next((m) => m.topic === 'lw/cell7/line/mask');
    assert.deepEqual([...mask.payload.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.equal(mask.packet.properties?.contentType, 'image/png');
    assert.match(String(mask.packet.properties?.userProperties?.frame_id), /^\d+$/);

    // a signed command with an MQTT 5 response topic gets its reply with the correlation data
    const ask = async (name: string, body: Record<string, unknown>, sign = true) => {
      const correlation = Buffer.from(`${name}-${Math.random()}`);
      const from = watch.got.length;
      await watch.client.publishAsync(`lw/cell7/cmd/${name}`, JSON.stringify(sign ? signCommand(SECRET, name, body) : body), {
        qos: 1,
        properties: { responseTopic: 'plant/replies', correlationData: correlation },
      });
      await watch.client.subscribeAsync('plant/replies');
      const reply = await watch.next(
        (m) => m.topic === 'plant/replies' && Buffer.compare(m.packet.properties?.correlationData ?? Buffer.alloc(0), correlation) === 0,
        from,
      );
      return json<{ ok: boolean; error?: string; result?: Record<string, unknown> }>(reply);
    };
    const status = await ask('status', {});
    assert.equal(status.ok, true);
    assert.equal((status.result as { provider: string }).provider, 'cpu');
    const snapshot = await ask('snapshot', { camera: 'line' });
    assert.equal(snapshot.ok, true, snapshot.error);
    const png = await fs.readFile((snapshot.result as { path: string }).path);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    const reload = await ask('reload', {});
    assert.equal(reload.ok, true, reload.error);
    assert.equal((reload.result as { bundle: string }).bundle, bundle);
    // wrongly signed, unknown field, unknown camera: error replies, nothing changes
    const forged = await ask('set', { threshold: 0, ts: Date.now(), sig: 'f'.repeat(64) }, false);
    assert.equal(forged.ok, false);
    assert.match(forged.error!, /signature/);
    assert.equal((await ask('set', { threshold: 0, colour: 'red' })).ok, false);
    assert.match((await ask('set', { camera: 'nope', threshold: 0 })).error!, /unknown camera 'nope'/);
    const after = json<ResultPayload>(await watch.next((m) => m.topic === 'lw/cell7/line/result', watch.got.length));
    assert.equal(after.threshold, result.threshold, 'rejected commands left the threshold alone');

    // threshold 0: every frame is anomalous -> an event opens
    assert.equal((await ask('set', { threshold: 0 })).ok, true);
    const opened = json<EventPayload>(await watch.next((m) => m.topic === 'lw/cell7/line/events' && json<EventPayload>(m).type === 'new'));
    assert.equal(opened.camera, 'line');
    assert.ok(opened.bbox && opened.bbox.x >= 0 && opened.bbox.x + opened.bbox.w <= 96, 'bbox inside the roi, in camera pixels');

    // broker down: the event ends and another opens (commands through the page's HTTP path);
    // both wait in the outbox and arrive once the broker is back
    await broker.stop();
    const lineAnomalous = (a: boolean) => (s: AgentState) => s.cameras.find((c) => c.name === 'line')?.anomalous === a;
    assert.equal((await postCommand(httpPort, 'set', { threshold: 1 })).reply.ok, true);
    await stateUntil(httpPort, lineAnomalous(false), 'a normal frame after threshold 1');
    assert.equal((await postCommand(httpPort, 'set', { threshold: 0 })).reply.ok, true);
    const state = await stateUntil(httpPort, lineAnomalous(true), 'an anomalous frame after threshold 0');
    assert.equal(state.mqtt_connected, false);
    await sleep(2000); // the broker stays down a while longer
    await broker.start();
    const ended = await watch.next((m) => m.topic === 'lw/cell7/line/events' && json<EventPayload>(m).type === 'end' && json<EventPayload>(m).id === opened.id);
    assert.ok(json<EventPayload>(ended).end_ts! >= opened.start_ts);
    await watch.next((m) => m.topic === 'lw/cell7/line/events' && json<EventPayload>(m).type === 'new' && json<EventPayload>(m).id !== opened.id);
    await watch.next((m) => m.topic === 'lw/cell7/line/result', watch.got.length);

    // re-tune from the reservoir (filled before the first tuning) -> done, and results use the new set
    const retune = await ask('retune', {});
    assert.equal(retune.ok, true, retune.error);
    const jobId = (retune.result as { job_id: string }).job_id;
    const endState = await watch.next((m) => {
      if (m.topic !== 'lw/cell7/retune/state') return false;
      const s = json<RetuneStatePayload>(m);
      return s.job_id === jobId && ['done', 'rejected', 'failed'].includes(s.state);
    });
    const finished = json<RetuneStatePayload>(endState);
    assert.equal(finished.state, 'done', finished.message);
    assert.ok(finished.prompt_set);
    const jobStates = watch.got
      .filter((m) => m.topic === 'lw/cell7/retune/state')
      .map((m) => json<RetuneStatePayload>(m))
      .filter((s) => s.job_id === jobId);
    assert.ok(
      jobStates.some((s) => s.state === 'validating' && s.phase === 'calibration'),
      `the tuner's step rides along: ${JSON.stringify(jobStates.map((s) => [s.state, s.phase]))}`,
    );
    assert.equal(finished.phase, undefined, 'no step once the job has ended');
    const tuned = json<ResultPayload>(await watch.next((m) => m.topic === 'lw/cell7/line/result' && json<ResultPayload>(m).prompt_set === finished.prompt_set));
    // The tuned set carries a memory bank: from its first result on, both scorers score (swapped together).
    assert.equal(typeof tuned.scores.memory, 'number', JSON.stringify(tuned.scores));
    assert.ok(tuned.raw_score >= 0 && tuned.raw_score <= 1, 'two scorers: raw_score is the combined map maximum, on 0..1');
    const onDisk = (await fs.readFile(path.join(dir, 'var/prompts/current'), 'utf8')).trim();
    assert.equal(onDisk, finished.prompt_set);

    // graceful stop: `stopped` retained, exit code 0
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
    await watch.next((m) => m.topic === 'lw/cell7/status' && m.payload.toString() === 'stopped');
    await broker.stop();

    // everything the running agent published fits its channel of docs/asyncapi.json
    const contract = checkPublished(loadContractChannels({ prefix: ['lw'], camera: ['line'] }), watch.got, ['plant/replies']);
    assert.deepEqual(contract.problems, []);
    const seen = ['status', 'cameraStatus', 'result', 'mask', 'events', 'retuneState', 'commandResponse'].filter((c) => contract.checked[c]);
    assert.equal(seen.length, 7, `checked only ${seen.join(', ')}`);
  });
});

describe('embedded default (npm start)', () => {
  test('config/default.yaml runs with the in-process broker, the demo bundle and the live page', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const agent = startAgent(path.join(REPO_ROOT, 'config/default.yaml'), {
      LINEWATCH_DATA_DIR: dir,
      LINEWATCH_MQTT_PORT: String(mqttPort),
      LINEWATCH_HTTP_PORT: String(httpPort),
    });
    t.after(() => agent.child.kill('SIGKILL'));
    let watch: Awaited<ReturnType<typeof observer>> | null = null;
    while (!watch) {
      if (agent.child.exitCode !== null) assert.fail(`agent exited: ${agent.log.join('\n')}`);
      watch = await observer(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 }, ['linewatch/demo/#']).catch(() => null);
      if (!watch) await sleep(500);
    }
    const result = json<ResultPayload>(await watch.next((m) => m.topic === 'linewatch/demo/demo/result'));
    assert.ok(result.frame_id >= 0);
    const state = (await (await fetch(`http://127.0.0.1:${httpPort}/api/state`)).json()) as {
      demo: boolean;
      cameras: { name: string; frame_id: number | null }[];
    };
    assert.equal(state.demo, true, 'the page is told the demo model is in use');
    assert.equal(state.cameras[0].name, 'demo');
    assert.ok(
      agent.log.some((l) => /DEMO model with random weights/.test(l)),
      'the log says so loudly',
    );
    agent.child.kill('SIGINT');
    assert.equal(await agent.exited, 0);
    await watch.next((m) => m.topic === 'linewatch/demo/status' && m.payload.toString() === 'stopped');
  });

  test('a bad configuration exits with code 2 naming the key', async () => {
    const dir = await tempDir();
    const config = path.join(dir, 'bad.yaml');
    await fs.writeFile(config, 'device_id: x\ncameras:\n  a: { source: "dir:.", fps: -1 }\n');
    const agent = startAgent(config);
    assert.equal(await agent.exited, 2);
    assert.ok(
      agent.log.some((l) => l.includes('cameras.a.fps')),
      agent.log.join('\n'),
    );
  });
});

// Secrets never leave the agent (defect 4), end to end: `linewatch run` with a camera whose RTSP
// URL carries a password (ffmpeg fails on it and prints the URL), an MQTT password and a command
// secret. Everything that comes out — every MQTT message on the real broker, the agent's stdout and
// stderr at debug level, the HTTP answers and the page as Chromium renders it — is searched for the
// three secrets, while the camera's reason must still say what went wrong.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { CameraStatusPayload } from '../../agent/contract/payloads.ts';
import type { AgentState } from '../../agent/http/agent-view.ts';
import { buildBundle } from '../../models/bundle/build.ts';
import { startAgentProcess } from '../support/agent-process.ts';
import { chromiumMissing, launchChromium } from '../support/chromium.ts';
import { httpLeaks, leaksIn as secretsIn } from '../support/leaks.ts';
import { findExecutable, freePort, observer, sleep, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');
const CAMERA_PASSWORD = 'S3cretPw';
const MQTT_PASSWORD = 'mqtt-Pa55word-7781';
const COMMAND_SECRET = 'command-secret-0123456789abcdef';
const SECRETS = [CAMERA_PASSWORD, MQTT_PASSWORD, COMMAND_SECRET];
const HANG_GUARD = { timeout: 240_000 }; // not a speed assertion: a hung agent must not hang CI

const mosquitto = findExecutable('mosquitto');
const passwd = findExecutable('mosquitto_passwd');
const ffmpeg = findExecutable('ffmpeg');
const skip = !mosquitto || !passwd ? 'mosquitto is not installed' : !ffmpeg ? 'ffmpeg is not installed' : chromiumMissing;

const leaksIn = (where: string, text: string) => secretsIn(SECRETS, where, text);

describe('no secret in any output of a running agent', { skip }, () => {
  test('MQTT payloads, logs, /healthz, /api/state, /metrics and the page keep passwords masked', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);

    const passwords = path.join(dir, 'passwords');
    execFileSync(passwd!, ['-b', '-c', passwords, 'agent', MQTT_PASSWORD], { stdio: 'ignore' });
    execFileSync(passwd!, ['-b', passwords, 'watcher', 'watcher-pw'], { stdio: 'ignore' });
    const broker = await startMosquitto(mosquitto!, ['allow_anonymous false', `password_file ${passwords}`]);
    t.after(() => broker.stop());
    const watch = await observer(broker.url, { username: 'watcher', password: 'watcher-pw' }, ['#']);

    const closedPort = await freePort(); // nothing listens: ffmpeg's connection is refused
    const httpPort = await freePort();
    const config = path.join(dir, 'agent.yaml');
    await fs.writeFile(
      config,
      `device_id: cell9
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", username: agent, password: "${MQTT_PASSWORD}", topic_prefix: lw, command_secret: "${COMMAND_SECRET}" }
cameras:
  gate: { source: "rtsp://user:${CAMERA_PASSWORD}@127.0.0.1:${closedPort}/stream", fps: 2 }
http: { host: 127.0.0.1, port: ${httpPort} }
`,
    );

    const { child: agent, exited, output } = startAgentProcess(config, { LINEWATCH_LOG_LEVEL: 'debug' });

    // The camera must have reported its failure, or there is nothing to leak yet.
    const statusMessage = await watch.next((m) => {
      if (m.topic !== 'lw/cell9/gate/status') return false;
      const s = JSON.parse(m.payload.toString()) as CameraStatusPayload;
      return s.state === 'offline' && s.reason !== undefined && s.reason !== 'starting';
    });
    const status = JSON.parse(statusMessage.payload.toString()) as CameraStatusPayload;
    assert.match(status.reason ?? '', /Connection refused/, 'the reason still says what went wrong');
    assert.match(status.reason ?? '', /rtsp:\/\/user:\*\*\*@127\.0\.0\.1/, 'with the URL, its password masked');

    const base = `http://127.0.0.1:${httpPort}`;
    let state: AgentState | null = null;
    for (let i = 0; i < 600 && !state?.cameras[0]?.status_reason?.includes('Connection refused'); i++) {
      state = (await (await fetch(`${base}/api/state`)).json().catch(() => null)) as AgentState | null;
      await sleep(100);
    }
    assert.match(state?.cameras[0]?.status_reason ?? '', /Connection refused/, JSON.stringify(state));
    // A command with a bad signature: its reply and the log must not echo the secret it was checked with.
    const replied = watch.next((m) => m.topic === 'lw/cell9/cmd/status/reply');
    await watch.client.publishAsync('lw/cell9/cmd/status', JSON.stringify({ id: 'probe-1', ts: Date.now(), sig: 'not-a-signature' }), { qos: 1 });
    await replied;

    const leaks = await httpLeaks(SECRETS, base);
    const health = (await (await fetch(`${base}/healthz`)).json()) as { checks: Record<string, { detail?: string }> };
    assert.match(health.checks['camera gate']?.detail ?? '', /Connection refused/);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      const cameraStatus = page.locator('.camera[data-camera="gate"] .camera-status');
      await cameraStatus.filter({ hasText: 'Connection refused' }).waitFor({ timeout: 60_000 });
      assert.match((await cameraStatus.textContent()) ?? '', /offline: .*rtsp:\/\/user:\*\*\*@/);
      leaks.push(...leaksIn('page text', (await page.locator('body').textContent()) ?? ''));
      leaks.push(...leaksIn('page DOM', await page.content()));
    } finally {
      await browser.close();
    }

    agent.kill('SIGTERM');
    assert.equal(await exited, 0, output());
    await watch.next((m) => m.topic === 'lw/cell9/status' && m.payload.toString() === 'stopped');
    for (const m of watch.got) leaks.push(...leaksIn(`MQTT ${m.topic}`, m.payload.toString()));
    leaks.push(...leaksIn('agent output', output()));
    assert.match(output(), /\[camera gate\] ffmpeg exited .*rtsp:\/\/user:\*\*\*@127\.0\.0\.1.*Connection refused; restarting/, 'the log says why, masked');
    assert.deepEqual(leaks, []);
  });
});

describe('validate-config shows sources masked by the same function', () => {
  test('a good file lists the camera URL masked; a bad URL is named masked', async () => {
    const dir = await tempDir();
    const run = promisify(execFile);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LINEWATCH_')));
    const good = path.join(dir, 'good.yaml');
    await fs.writeFile(good, `device_id: v1\ncameras:\n  gate: { source: "rtsp://user:${CAMERA_PASSWORD}@10.0.0.5:554/s?token=${COMMAND_SECRET}", fps: 2 }\n`);
    const listed = await run(process.execPath, [CLI, 'validate-config', '--config', good], { env });
    assert.match(listed.stdout, /gate: rtsp:\/\/user:\*\*\*@10\.0\.0\.5:554\/s\?token=\*\*\* at 2 fps/);
    assert.deepEqual(leaksIn('validate-config output', listed.stdout + listed.stderr), []);

    const bad = path.join(dir, 'bad.yaml');
    await fs.writeFile(bad, `device_id: v1\ncameras:\n  gate: { source: "rtsp://user:${CAMERA_PASSWORD}@", fps: 2 }\n`);
    const failed = await run(process.execPath, [CLI, 'validate-config', '--config', bad], { env }).then(
      () => assert.fail('expected exit code 2'),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(failed.code, 2);
    assert.match(failed.stderr, /cameras\.gate\.source: .*rtsp:\/\/user:\*\*\*@/);
    assert.deepEqual(leaksIn('validate-config error', failed.stdout + failed.stderr), []);
  });
});

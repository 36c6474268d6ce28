// The README's first command on a fresh clone, as a newcomer runs it: `git clone` of this
// branch's committed HEAD into a temp dir, then that line verbatim through sh, with nothing from
// this environment that would make it pass by accident (no ONNXRUNTIME_NODE_INSTALL, no npm_*
// variables of an enclosing `npm test`). Proves the install and the start: the live page answers
// and `P/status` is `online` on the real embedded broker. Ports are moved with LINEWATCH_* so a
// running demo does not collide; the npm cache is used offline-first (the registry is the only
// network a CI machine may have, and a warm cache makes the install ~20 s).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, observer, sleep, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';

/** The first line of the README's "two commands" block, without its comment. */
function readmeStartCommand(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /## The two commands[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a "The two commands" section with a sh block');
  const [start, tests] = block[1]
    .trim()
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim());
  assert.match(start, /npm start$/, 'the first line runs the agent');
  assert.match(tests, /npm test$/, 'the second line runs the tests');
  return start;
}

/** This environment without what could make a fresh install pass here and fail on a newcomer's machine. */
function newcomerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|ONNXRUNTIME_NODE_INSTALL|LINEWATCH_)/i.test(k)));
  return { ...env, npm_config_prefer_offline: 'true', ...extra };
}

test("a fresh clone: the README's first command installs and starts the demo; the page answers and P/status is online", { timeout: 420_000 }, async (t) => {
  const command = readmeStartCommand();
  const clone = path.join(await tempDir(), 'linewatch');
  execFileSync('git', ['clone', '--quiet', REPO_ROOT, clone]);
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const started = Date.now();
  // Its own process group: npm -> sh -> tsx -> node, all stopped together.
  const child = spawn('sh', ['-c', command], {
    cwd: clone,
    detached: true,
    env: newcomerEnv({ LINEWATCH_HTTP_PORT: String(httpPort), LINEWATCH_MQTT_PORT: String(mqttPort) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  for (const s of [child.stdout, child.stderr]) s.on('data', (d: Buffer) => log.push(...d.toString().split('\n')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  });

  let page: Response | null = null;
  while (!page) {
    if (child.exitCode !== null) assert.fail(`'${command}' ended with ${child.exitCode} before the page answered:\n${log.slice(-40).join('\n')}`);
    page = await fetch(`http://127.0.0.1:${httpPort}/`).catch(() => null);
    if (!page) await sleep(500);
  }
  const answeredS = (Date.now() - started) / 1000;
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  const watch = await observer(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 }, ['linewatch/demo/status']);
  const status = await watch.next((m) => m.topic === 'linewatch/demo/status');
  assert.equal(status.payload.toString(), 'online');
  t.diagnostic(`install + start until the page answered: ${answeredS.toFixed(1)} s`);

  // The where-to-look block of the demo, with the ports really in use: logged once the model is
  // ready, which is after the page and MQTT are up (they report the model's loading).
  for (let waited = 0; !log.some((l) => l.includes('mosquitto_sub')) && waited < 180_000; waited += 500) await sleep(500);
  const text = log.join('\n');
  assert.ok(text.includes(`page:  http://127.0.0.1:${httpPort}/`), text);
  assert.ok(text.includes(`mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -t 'linewatch/demo/#' -v`), text);
  assert.match(text, /linewatch model pull openai\/clip-vit-base-patch16/);
  assert.match(text, /linewatch model build --weights \S+ --out \S+/);
  assert.doesNotMatch(text, /npm (error|warn)/, 'the install is clean');

  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  await watch.next((m) => m.topic === 'linewatch/demo/status' && m.payload.toString() === 'stopped');
});

// `linewatch run` when start-up fails (defect 10): the port is taken, the embedded broker cannot
// listen, the bundle is unreadable. A user must get exit code 1 and one line that names what
// failed and what to do — no stack trace — and the process must end by itself: an MQTT link still
// reconnecting or a camera still running would keep it alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { buildBundle } from '../../models/bundle/build.ts';
import { freePort, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');
/** Not a speed assertion: a failed start that leaves something running never exits. */
const EXIT_WITHIN_MS = 90_000;
const TEST_TIMEOUT = { timeout: 240_000 };

interface Outcome {
  code: number | null;
  stderr: string[];
  stdout: string;
}

async function runAgent(config: string, logLevel: string): Promise<Outcome> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], {
    env: { ...process.env, LINEWATCH_LOG_LEVEL: logLevel },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), EXIT_WITHIN_MS)));
  const code = await Promise.race([exited, hung]);
  clearTimeout(timer);
  if (code === 'hung') {
    child.kill('SIGKILL');
    assert.fail(`the agent did not exit within ${EXIT_WITHIN_MS / 1000} s after a failed start; stderr:\n${stderr}`);
  }
  return { code, stderr: stderr.split('\n').filter((l) => l !== ''), stdout };
}

/** Exit 1; at level error nothing but the one line; at the default level no stack frame and the line last. */
async function assertOneLineFailure(config: string, expected: RegExp): Promise<void> {
  const quiet = await runAgent(config, 'error');
  assert.equal(quiet.code, 1, quiet.stderr.join('\n'));
  assert.equal(quiet.stderr.length, 1, `exactly one line on stderr, got:\n${quiet.stderr.join('\n')}`);
  assert.match(quiet.stderr[0], expected);
  assert.equal(quiet.stdout, '');

  const normal = await runAgent(config, 'info');
  assert.equal(normal.code, 1, normal.stderr.join('\n'));
  assert.ok(!normal.stderr.some((l) => /^\s+at /.test(l)), `no stack frames:\n${normal.stderr.join('\n')}`);
  assert.ok(!normal.stderr.some((l) => /stopped before it ever connected/.test(l)), `the real cause wins:\n${normal.stderr.join('\n')}`);
  assert.match(normal.stderr.at(-1) ?? '', expected, normal.stderr.join('\n'));
}

/** Holds a loopback port, as another process would. */
async function takePort(): Promise<{ port: number; release: () => Promise<void> }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return { port, release: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('linewatch run: a failed start-up is one line and exit code 1', () => {
  let dir = '';
  let bundle = '';
  before(async () => {
    dir = await tempDir();
    bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);
  });

  async function writeConfig(name: string, mqtt: string, httpPort: number, bundlePath = bundle, dataDir = path.join(dir, name)): Promise<string> {
    const file = path.join(dir, `${name}.yaml`);
    await fs.writeFile(
      file,
      `device_id: start1
data_dir: ${dataDir}
model: { bundle: ${bundlePath}, execution_providers: [cpu] }
mqtt: ${mqtt}
cameras:
  line: { source: "dir:${path.join(REPO_ROOT, 'demo/frames')}", fps: 2 }
http: { host: 127.0.0.1, port: ${httpPort} }
`,
    );
    return file;
  }

  test('the HTTP port is taken while the broker is still unreachable', TEST_TIMEOUT, async (t) => {
    const taken = await takePort();
    t.after(() => taken.release());
    const closedBroker = await freePort();
    const config = await writeConfig('http-taken', `{ url: "mqtt://127.0.0.1:${closedBroker}", topic_prefix: lw }`, taken.port);
    await assertOneLineFailure(config, new RegExp(`^linewatch run: cannot start: .*127\\.0\\.0\\.1:${taken.port}.*already in use.*http\\.port`));
  });

  test('the embedded broker cannot listen', TEST_TIMEOUT, async (t) => {
    const taken = await takePort();
    t.after(() => taken.release());
    const config = await writeConfig('broker-taken', `{ url: embedded, port: ${taken.port} }`, await freePort());
    await assertOneLineFailure(
      config,
      new RegExp(`^linewatch run: cannot start: .*broker cannot listen on 127\\.0\\.0\\.1:${taken.port}: the port is already in use.*mqtt\\.port`),
    );
  });

  test('the bundle is unreadable', TEST_TIMEOUT, async () => {
    const empty = path.join(dir, 'not-a-bundle');
    await fs.mkdir(empty, { recursive: true });
    const config = await writeConfig('bad-bundle', '{ url: embedded, port: 0 }', await freePort(), empty);
    await assertOneLineFailure(config, /^linewatch run: cannot start: model: .*not-a-bundle is not a model bundle: manifest\.json is missing/);
  });

  test('data_dir cannot be created', TEST_TIMEOUT, async () => {
    const file = path.join(dir, 'a-file');
    await fs.writeFile(file, '');
    const config = await writeConfig('bad-data-dir', '{ url: embedded, port: 0 }', await freePort(), bundle, path.join(file, 'var'));
    await assertOneLineFailure(config, /^linewatch run: cannot start: cannot create data_dir .*a-file\/var: ENOTDIR/);
  });
});

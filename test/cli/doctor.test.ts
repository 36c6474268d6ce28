// `linewatch doctor` as an operator runs it: the CLI as a child process against real parts --
// the embedded demo config, a real mosquitto with a password file, real ffmpeg (and a PATH
// without it), a bundle built from the tiny fixture and then corrupted, a silent TCP port
// standing in for a camera or broker that never answers, a taken port, a data_dir that cannot
// be written or is too small. Each failing check must say what fixes it, finish within its time
// limit, and no password may appear in the output.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import YAML from 'yaml';
import { type AgentConfig, loadConfig } from '../../agent/config.ts';
import type { Check } from '../../cli/doctor/check.ts';
import { tensorrtCheck } from '../../cli/doctor/checks/tensorrt.ts';
import { runChecks } from '../../cli/doctor/run-checks.ts';
import type { PromptSet } from '../../tuning/prompt-set.ts';
import { PromptStore } from '../../tuning/prompt-store.ts';
import { GPU_PROVIDERS_INSTALLED } from '../support/gpu-providers.ts';
import { findExecutable, freePort, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { buildTinyBundle } from '../support/tiny-bundle.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');
const FRAMES = path.join(REPO_ROOT, 'demo/frames');
const mosquittoBin = findExecutable('mosquitto');
const passwdBin = findExecutable('mosquitto_passwd');
const hasFfmpeg = findExecutable('ffmpeg') !== null;
const SLOW = { timeout: 180_000 }; // a hang guard, not a speed assertion

interface Line {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  action?: string;
  ms: number;
}
interface Run {
  code: number;
  stdout: string;
  stderr: string;
  checks: Map<string, Line>;
}

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A TCP port that accepts connections and never says a word: a camera or broker that hangs. */
async function silentPort(): Promise<number> {
  const server = net.createServer(() => {});
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** A port held by another listener. */
async function takenPort(): Promise<number> {
  return silentPort();
}

/** A config with the demo's camera, an embedded broker and the page on free ports; `over` replaces sections. */
async function writeConfig(over: Record<string, unknown> = {}): Promise<string> {
  const dir = await tempDir();
  const config = {
    device_id: 'doc',
    data_dir: path.join(dir, 'data'),
    model: { bundle: 'auto', execution_providers: ['cpu'] },
    mqtt: { url: 'embedded', port: 0 },
    cameras: { demo: { source: `dir:${FRAMES}`, fps: 2 } },
    http: { port: 0 },
    ...over,
  };
  const file = path.join(dir, 'linewatch.yaml');
  await fs.writeFile(file, YAML.stringify(config));
  return file;
}

function doctor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LINEWATCH_')));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'doctor', '--json', ...args], { env: { ...base, ...env } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      let checks = new Map<string, Line>();
      try {
        checks = new Map((JSON.parse(stdout) as { checks: Line[] }).checks.map((c) => [c.name, c]));
      } catch {
        return reject(new Error(`doctor printed no JSON report:\n${stdout}\n${stderr}`));
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr, checks });
    });
  });
}

function expectFail(run: Run, name: string, detail: RegExp, action: RegExp): void {
  const line = run.checks.get(name);
  assert.ok(line, `a '${name}' line in:\n${run.stdout}`);
  assert.equal(line.status, 'fail', `${name}: ${JSON.stringify(line)}`);
  assert.match(line.detail, detail);
  assert.match(line.action ?? '', action);
  assert.equal(run.code, 1, 'a failing check makes the exit code 1');
}

describe('the check runner', () => {
  test('a check that never answers fails at its own time limit; the others still report', async () => {
    const never: Check = { name: 'hangs', timeoutMs: 300, run: () => new Promise(() => {}) };
    const quick: Check = { name: 'quick', timeoutMs: 1000, run: async () => ({ status: 'ok', detail: 'fine' }) };
    const throws: Check = {
      name: 'throws',
      timeoutMs: 1000,
      run: async () => {
        throw new Error('boom');
      },
    };
    const ctx = { config: {} as AgentConfig, configFile: 'x.yaml' };
    const started = Date.now();
    const [hangs, fine, boom] = await runChecks([never, quick, throws], ctx);
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual([hangs.status, hangs.detail], ['fail', 'no answer within 0.3 s']);
    assert.ok(hangs.ms >= 290 && hangs.ms < 3000, String(hangs.ms));
    assert.deepEqual([fine.status, fine.detail], ['ok', 'fine']);
    assert.deepEqual([boom.status, boom.detail], ['fail', 'the check itself failed: boom']);
  });
});

describe('linewatch doctor', () => {
  test('the embedded default config passes: every check ok, exit 0, the same lines as text', SLOW, async () => {
    const dataDir = await tempDir();
    const env = { LINEWATCH_DATA_DIR: dataDir, LINEWATCH_HTTP_PORT: String(await freePort()), LINEWATCH_MQTT_PORT: String(await freePort()) };
    const run = await doctor([], env);
    assert.equal(run.code, 0, run.stdout);
    const expected = ['node', 'ffmpeg', 'execution providers', 'bundle', 'tensorrt', 'prompt store', 'data_dir', 'broker', 'camera demo', 'http port'];
    assert.deepEqual([...run.checks.keys()], expected);
    for (const line of run.checks.values()) assert.equal(line.status, hasFfmpeg || line.name !== 'ffmpeg' ? 'ok' : 'warn', JSON.stringify(line));
    assert.match(run.checks.get('bundle')!.detail, /DEMO bundle .* built at first start/);

    const text = await new Promise<string>((resolve) => {
      execFile(process.execPath, [CLI, 'doctor'], { env: { ...process.env, ...env } }, (_e, stdout) => resolve(stdout));
    });
    assert.equal(text.trim().split('\n').length, expected.length, text);
    assert.match(text, /^ok {3}camera demo: dir:.*first frame received$/m);
  });

  test('no ffmpeg on PATH: the ffmpeg line and the RTSP camera fail, with the install action', SLOW, async () => {
    const bin = await tempDir();
    await fs.symlink(process.execPath, path.join(bin, 'node'));
    const config = await writeConfig({ cameras: { gate: { source: `rtsp://127.0.0.1:${await silentPort()}/s`, fps: 2, watchdog_s: 2 } } });
    const run = await doctor(['--config', config], { PATH: bin });
    expectFail(run, 'ffmpeg', /not found on PATH; cameras gate need it/, /apt-get install ffmpeg/);
    expectFail(run, 'camera gate', /cannot start ffmpeg/, /cameras\.<name>\.source/);
  });

  test('ffmpeg present: its version and the h264 decoder an RTSP camera needs', { ...SLOW, skip: hasFfmpeg ? false : 'ffmpeg is not installed' }, async () => {
    const config = await writeConfig({ cameras: { gate: { source: `rtsp://127.0.0.1:${await silentPort()}/s`, fps: 2, watchdog_s: 2, start_timeout_s: 2 } } });
    const run = await doctor(['--config', config]);
    const version = execFileSync('ffmpeg', ['-hide_banner', '-version']).toString().split(' ')[2];
    assert.equal(run.checks.get('ffmpeg')!.status, 'ok');
    assert.equal(run.checks.get('ffmpeg')!.detail, `ffmpeg ${version}, decoders h264`);
  });

  test('a provider whose libraries are not installed fails, naming what is missing and the install command', {
    ...SLOW,
    skip: GPU_PROVIDERS_INSTALLED ? 'this machine has the CUDA provider installed' : false,
  }, async () => {
    const config = await writeConfig({ model: { bundle: 'auto', execution_providers: ['cuda', 'cpu'] } });
    const run = await doctor(['--config', config]);
    expectFail(
      run,
      'execution providers',
      /the agent would run on cpu, not cuda: cuda: libonnxruntime_providers_\w+\.so/,
      /ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --ignore-scripts=false/,
    );
    const trt = await doctor(['--config', await writeConfig({ model: { bundle: 'auto', execution_providers: ['tensorrt'] } })]);
    expectFail(trt, 'execution providers', /no configured provider can run: tensorrt/, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    const tensorrt = trt.checks.get('tensorrt');
    assert.equal(tensorrt?.status, 'skip', JSON.stringify(tensorrt));
    assert.match(tensorrt.detail, /^skipped: no bundle yet at .*bundles[/\\]demo/);
  });

  test(
    'tensorrt: every graph of the bundle parses, and whether the next start builds or loads engines; an int8 bundle is named with its fix',
    SLOW,
    async () => {
      const dir = await tempDir();
      const check = async (over: Record<string, unknown>) => {
        const file = await writeConfig({ data_dir: path.join(dir, 'data'), ...over });
        const config = loadConfig(file);
        assert.ok(config.ok, config.ok ? '' : config.error);
        return { finding: await tensorrtCheck.run({ config: config.value, configFile: file }), config: config.value };
      };
      const float32 = await buildTinyBundle(path.join(dir, 'fp32'));
      const cpuOnly = await check({ model: { bundle: float32, execution_providers: ['cpu'] } });
      assert.deepEqual(cpuOnly.finding, { status: 'ok', detail: 'not configured' });

      const fresh = await check({ model: { bundle: float32, execution_providers: ['tensorrt', 'cpu'] } });
      assert.equal(fresh.finding.status, 'ok', JSON.stringify(fresh.finding));
      assert.match(
        fresh.finding.detail,
        /^4 graphs parse in TensorRT 10\.x; no cached engine in .*trt-cache[/\\]fp32-[0-9a-f]{16}: the first start builds one per graph/,
      );
      const cacheDir = /no cached engine in (\S+):/.exec(fresh.finding.detail)![1];
      await fs.mkdir(cacheDir, { recursive: true });
      await fs.writeFile(path.join(cacheDir, 'TensorrtExecutionProvider_TRTKernel_graph_1.engine'), 'engine');
      const cached = await check({ model: { bundle: float32, execution_providers: ['tensorrt', 'cpu'] } });
      assert.match(cached.finding.detail, /; 1 cached engine\(s\) in .*: the next start loads them$/);
      const uncached = await check({ model: { bundle: float32, execution_providers: ['tensorrt', 'cpu'], tensorrt: { engine_cache: false } } });
      assert.match(uncached.finding.detail, /engine cache off \(model\.tensorrt\.engine_cache\): every start builds the engines again$/);

      const int8 = await buildTinyBundle(path.join(dir, 'int8'), { precision: 'int8' });
      const quantized = await check({ model: { bundle: int8, execution_providers: ['tensorrt', 'cpu'] } });
      assert.equal(quantized.finding.status, 'warn', JSON.stringify(quantized.finding));
      assert.match(
        quantized.finding.detail,
        /^vision\.onnx would not parse in TensorRT 10\.x \((DynamicQuantizeLinear, MatMulInteger|MatMulInteger, DynamicQuantizeLinear)\)$/,
      );
      assert.match(quantized.finding.action ?? '', /^use a float32 bundle \(model\.precision: fp32\)/);
    },
  );

  test('a bundle file that was modified fails the checksum, naming the file; the intact bundle passes', SLOW, async () => {
    const bundle = await buildTinyBundle(path.join(await tempDir(), 'tiny'));
    const config = await writeConfig({ model: { bundle, execution_providers: ['cpu'] } });
    const intact = await doctor(['--config', config]);
    assert.equal(intact.checks.get('bundle')!.status, 'ok', intact.stdout);
    assert.match(intact.checks.get('bundle')!.detail, /\d+ files match their checksums/);
    await fs.appendFile(path.join(bundle, 'vision.onnx'), Buffer.from([0]));
    const run = await doctor(['--config', config]);
    expectFail(run, 'bundle', /vision\.onnx is corrupt or was modified/, /rebuild/);
  });

  test(
    'a broker that refuses, one that never answers, and wrong credentials: each fails with its fix, within the timeout, no password printed',
    SLOW,
    async () => {
      const secret = 'doctor-pw-9f3k';
      const refused = await doctor(['--config', await writeConfig({ mqtt: { url: `mqtt://127.0.0.1:${await freePort()}`, username: 'u', password: secret } })]);
      expectFail(refused, 'broker', /connection refused/, /start the broker, or fix the host and port in mqtt\.url/);

      const started = Date.now();
      const silent = await doctor(['--config', await writeConfig({ mqtt: { url: `mqtt://u:${secret}@127.0.0.1:${await silentPort()}` } })]);
      expectFail(silent, 'broker', /^mqtt:\/\/u:\*\*\*@127\.0\.0\.1:\d+\/?: no CONNACK within 8 s/, /check mqtt\.url/);
      assert.ok(silent.checks.get('broker')!.ms < 10_000, `within the broker check's limit: ${silent.checks.get('broker')!.ms} ms`);
      assert.ok(Date.now() - started < 60_000);

      for (const run of [refused, silent]) assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), run.stdout);
    },
  );

  test('wrong credentials on a real mosquitto fail; the right ones pass', {
    ...SLOW,
    skip: mosquittoBin && passwdBin ? false : 'mosquitto or mosquitto_passwd is not installed',
  }, async () => {
    const dir = await tempDir();
    const passwords = path.join(dir, 'passwords');
    execFileSync(passwdBin!, ['-b', '-c', passwords, 'line1', 'right-pw-2k'], { stdio: 'ignore' });
    const broker = await startMosquitto(mosquittoBin!, ['allow_anonymous false', `password_file ${passwords}`]);
    try {
      const wrong = await doctor(['--config', await writeConfig({ mqtt: { url: broker.url, username: 'line1', password: 'wrong-pw-7q' } })]);
      expectFail(wrong, 'broker', /refused the credentials/, /mqtt\.username \/ mqtt\.password/);
      assert.ok(!wrong.stdout.includes('wrong-pw-7q'));
      const right = await doctor(['--config', await writeConfig({ mqtt: { url: broker.url, username: 'line1', password: 'right-pw-2k' } })]);
      assert.equal(right.checks.get('broker')!.status, 'ok', right.stdout);
      assert.equal(right.code, 0, right.stdout);
    } finally {
      await broker.stop();
    }
  });

  test('a camera URL that never answers fails within its start_timeout_s, its password masked', {
    ...SLOW,
    skip: hasFfmpeg ? false : 'ffmpeg is not installed',
  }, async () => {
    const secret = 'cam-pw-x81';
    const config = await writeConfig({
      cameras: {
        silent: { source: `rtsp://admin:${secret}@127.0.0.1:${await silentPort()}/live`, fps: 2, start_timeout_s: 3 },
        refused: { source: `rtsp://admin:${secret}@127.0.0.1:${await freePort()}/live`, fps: 2, start_timeout_s: 3 },
      },
    });
    const run = await doctor(['--config', config]);
    for (const name of ['camera silent', 'camera refused']) {
      expectFail(run, name, /^rtsp:\/\/admin:\*\*\*@127\.0\.0\.1:\d+\/live: /, /reachable from this device/);
      assert.ok(run.checks.get(name)!.ms < 8000, `${name} within start_timeout_s + margin: ${run.checks.get(name)!.ms} ms`);
    }
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), run.stdout);
  });

  test('a data_dir that cannot be written, and one without room for the outbox, fail with their fixes', SLOW, async () => {
    // Root writes through file modes, so as root a folder of a read-only filesystem stands in.
    const readOnly = os.userInfo().uid === 0 ? '/sys/kernel/linewatch-doctor' : path.join(await tempDir(), 'ro');
    if (os.userInfo().uid !== 0) await fs.mkdir(readOnly, { mode: 0o555 });
    const ro = await doctor(['--config', await writeConfig({ data_dir: readOnly })]);
    expectFail(ro, 'data_dir', /is not writable \(E\w+\)/, /make .* writable .* or set data_dir \(LINEWATCH_DATA_DIR\)/);

    const full = await doctor(['--config', await writeConfig({ mqtt: { url: 'embedded', port: 0, outbox_max_mb: 1e9 } })]);
    expectFail(full, 'data_dir', /MB free, up to 1000000\d+ MB needed/, /free space .* or lower mqtt\.outbox_max_mb/);
  });

  test('a taken HTTP port and a taken embedded-broker port fail, naming the variable that moves them', SLOW, async () => {
    const port = await takenPort();
    const run = await doctor(['--config', await writeConfig({ http: { port }, mqtt: { url: 'embedded', port } })]);
    expectFail(run, 'http port', new RegExp(`127\\.0\\.0\\.1:${port} is already in use`), /LINEWATCH_HTTP_PORT/);
    expectFail(run, 'broker', /already in use/, /LINEWATCH_MQTT_PORT/);
  });

  test('a prompt set tuned for another bundle is a warning with the re-tune that fixes it; one for this bundle is ok', SLOW, async () => {
    const bundle = await buildTinyBundle(path.join(await tempDir(), 'tiny'));
    const config = await writeConfig({ model: { bundle, execution_providers: ['cpu'] } });
    const store = new PromptStore(path.join(path.dirname(config), 'data', 'prompts'));
    const set = (id: string, sha256: string): PromptSet => ({
      id,
      created: new Date().toISOString(),
      status: 'accepted',
      reasons: [],
      bundle: { id: 'tiny', sha256 },
      tokens: { shared: [[0.5]], normal: [[1]], anomalous: [[2]] },
      text_embeds: [
        [1, 0],
        [0, 1],
      ],
      calibration: { min: 0, max: 1, threshold: 0.5, targetFpr: 0.01 },
      metrics: {},
      config: {},
      data: {},
    });
    await store.commit(set('other-bundle', 'ab'.repeat(32)));
    const mismatched = await doctor(['--config', config]);
    const line = mismatched.checks.get('prompt store')!;
    assert.equal(line.status, 'warn', JSON.stringify(line));
    assert.match(line.detail, /prompt set other-bundle was tuned for bundle 'tiny' \(manifest sha256 abababababab…\)/);
    assert.equal(line.action, `re-tune: 'linewatch retune --config ${config}' against the running agent (or the page's re-tune button)`);
    assert.equal(mismatched.code, 0, 'a warning does not fail the device');

    const sha256 = createHash('sha256')
      .update(await fs.readFile(path.join(bundle, 'manifest.json')))
      .digest('hex');
    await store.commit(set('this-bundle', sha256));
    const fits = await doctor(['--config', config]);
    assert.deepEqual(
      { ...fits.checks.get('prompt store'), ms: 0 },
      { name: 'prompt store', status: 'ok', detail: 'current set this-bundle, tuned for bundle tiny', ms: 0 },
    );
  });

  test('run refuses to start on a taken port and points to doctor', SLOW, async () => {
    const bundle = await buildTinyBundle(path.join(await tempDir(), 'tiny'));
    const config = await writeConfig({ model: { bundle, execution_providers: ['cpu'] }, http: { port: await takenPort() } });
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'run', '--config', config], (e, _out, stderr) => resolve({ code: typeof e?.code === 'number' ? e.code : 0, stderr }));
    });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /cannot start: HTTP server cannot listen on .*\(linewatch doctor --config \S+linewatch\.yaml checks every prerequisite and names the fix\)/,
    );
  });

  test('an invalid configuration is one failing line naming the key', SLOW, async () => {
    const run = await doctor(['--config', await writeConfig({ http: { port: -5 } })]);
    expectFail(run, 'config', /http\.port: must be an integer in 0\.\.65535/, /validate-config/);
  });
});

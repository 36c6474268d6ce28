// Bounded fuzz of the command path against the agent as it runs: `linewatch run` as a child process,
// a real mosquitto, an ffmpeg camera. A fixed seed makes every run send the same few thousand
// malformed, hostile or forged commands, class by class, once to an agent without a command secret
// and once to one with a secret. After each class: the agent still runs, every command got an error
// reply on its MQTT 5 response topic with its correlation data, no handler ran (the agent logs each
// command that reaches one), and results keep coming with the threshold they had before.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { signCommand } from '../../agent/commands/signature.ts';
import type { ResultPayload } from '../../agent/contract/payloads.ts';
import { buildBundle } from '../../models/bundle/build.ts';
import { findExecutable, observer, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');
const SECRET = 'fuzz-secret-0123456789abcdef';
const SEED = 0x5eed_2026;
const HANG_GUARD = { timeout: 240_000 }; // not a speed assertion: a hung agent must not hang CI
const REPLY_TOPIC = 'fuzz/replies';
const COMMANDS = ['retune', 'rollback', 'reload', 'set', 'snapshot', 'status'] as const;
/** A threshold no command of this test may leave behind: each hostile `set` asks for it. */
const HOSTILE_THRESHOLD = 0.01;

/** mulberry32: a tiny seeded PRNG, so the commands are the same on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] };
}
type Rand = ReturnType<typeof prng>;

type Mode = 'open' | 'signed';
interface Fuzz {
  name: string;
  payload: string | Buffer;
}

/** In signed mode a JSON body is signed properly, so it gets past the signature to validation. */
const sealed = (mode: Mode, name: string, text: string): Fuzz =>
  mode === 'signed' ? { name, payload: JSON.stringify(signCommand(SECRET, name, JSON.parse(text) as Record<string, unknown>)) } : { name, payload: text };

/** Would the agent take this as a JSON object (or an empty body)? Random bytes must not be one. */
function isObjectBody(bytes: Buffer): boolean {
  const text = bytes.toString().trim();
  if (text === '') return true;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

function randomBytes(rand: Rand, count: number): Fuzz[] {
  const out: Fuzz[] = [];
  while (out.length < count) {
    const bytes = Buffer.from(Array.from({ length: 1 + rand.int(300) }, () => rand.int(256)));
    if (!isObjectBody(bytes)) out.push({ name: rand.pick(COMMANDS), payload: bytes });
  }
  return out;
}

const NOT_A_CAMERA = [5, -1, true, false, null, [], ['line'], {}, { name: 'line' }, '', 'x'.repeat(129), 1e308];
const NOT_A_UNIT = ['0.5', '', true, null, [], [0.5], {}, { value: 0.5 }, -0.01, 1.0001, 2, -1e308, 1e308];
/** A threshold may also be null (drops the override), so null is no wrong type for it. */
const NOT_A_THRESHOLD = NOT_A_UNIT.filter((v) => v !== null);
const NOT_A_BOOL = ['true', 'false', 0, 1, null, [], {}, 'yes'];
const NOT_A_REQUEST_ID = [1, true, null, [], {}, '', 'r'.repeat(129)];

/** One field of a command given a value of the wrong type or range; the rest of the body is valid. */
function wrongTypes(rand: Rand, mode: Mode, count: number): Fuzz[] {
  const shapes: Array<() => [string, Record<string, unknown>]> = [
    () => ['retune', { camera: rand.pick(NOT_A_CAMERA) }],
    () => ['snapshot', { camera: rand.pick(NOT_A_CAMERA) }],
    () => ['set', { threshold: rand.pick(NOT_A_THRESHOLD) }],
    () => ['set', { threshold: HOSTILE_THRESHOLD, sensitivity: rand.pick(NOT_A_UNIT) }],
    () => ['set', { threshold: HOSTILE_THRESHOLD, camera: rand.pick(NOT_A_CAMERA) }],
    () => ['set', { threshold: HOSTILE_THRESHOLD, camera: 'line', enabled: rand.pick(NOT_A_BOOL) }],
    () => ['set', { threshold: HOSTILE_THRESHOLD, request_id: rand.pick(NOT_A_REQUEST_ID) }],
    () => [rand.pick(['rollback', 'reload', 'status']), { [rand.pick(['camera', 'force', 'threshold', 'verbose'])]: rand.pick([...NOT_A_UNIT, 'line']) }],
  ];
  return Array.from({ length: count }, () => {
    const [name, body] = rand.pick(shapes)();
    return sealed(mode, name, JSON.stringify(body));
  });
}

/** Every name an object inherits, as a key at depth 1 to 4, for every command. */
function inheritedNames(mode: Mode): Fuzz[] {
  const out: Fuzz[] = [];
  for (const key of Object.getOwnPropertyNames(Object.prototype)) {
    for (let depth = 1; depth <= 4; depth++) {
      for (const name of COMMANDS) {
        // Written as JSON text: an object literal with `__proto__` would set a prototype instead.
        let inner = `{${JSON.stringify(key)}:1}`;
        for (let d = depth - 1; d >= 1; d--) inner = `{${JSON.stringify(d === 1 ? 'camera' : 'a')}:${inner}}`;
        // A `set` that slipped through would move the threshold: the test would see it.
        const text = name === 'set' ? `{"threshold":${HOSTILE_THRESHOLD},${inner.slice(1)}` : inner;
        out.push(sealed(mode, name, text));
      }
    }
  }
  return out;
}

/** 30,000 levels (or as many as 64 KiB allow), in a body that otherwise asks for a threshold change. */
function deepNesting(mode: Mode): Fuzz[] {
  const sig = mode === 'signed' ? `,"ts":${Date.now()},"sig":"${'0'.repeat(64)}"` : '';
  const arrays = '['.repeat(30_000) + ']'.repeat(30_000);
  const objects = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
  return [
    { name: 'set', payload: `{"threshold":${HOSTILE_THRESHOLD}${sig},"x":${arrays}}` },
    { name: 'set', payload: `{"threshold":${HOSTILE_THRESHOLD}${sig},"x":${objects}}` },
    { name: 'status', payload: '['.repeat(60_000) },
    { name: 'reload', payload: `{"x":${'['.repeat(30_000)}` },
    { name: 'retune', payload: `{"camera":${'{"a":'.repeat(12_000)}` },
    { name: 'snapshot', payload: arrays },
  ];
}

/** Valid (signed) commands padded past 64 KiB. */
function oversized(rand: Rand, mode: Mode): Fuzz[] {
  return Array.from({ length: 8 }, (_, i) => {
    const pad = 'p'.repeat(64 * 1024 + 1 + rand.int(64 * 1024) * i);
    return sealed(mode, 'set', JSON.stringify({ threshold: HOSTILE_THRESHOLD, pad }));
  });
}

/**
 * Signed mode: replays of an accepted command, and forgeries of every kind. Open mode takes no
 * signature, so there only malformed `ts` / `sig` fields are sent, which it must refuse.
 */
function signatures(rand: Rand, mode: Mode, accepted: string): Fuzz[] {
  const change = { threshold: HOSTILE_THRESHOLD };
  const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[rand.int(16)]).join('');
  const out: Fuzz[] = [];
  const add = (n: number, make: () => Fuzz) => {
    for (let i = 0; i < n; i++) out.push(make());
  };
  const badEnvelope = () =>
    rand.pick<Record<string, unknown>>([
      { sig: 'XYZ' },
      { sig: hex().toUpperCase() },
      { sig: hex().slice(1) },
      { sig: 7 },
      { ts: '1' },
      { ts: 1.5 },
      { ts: null },
    ]);
  add(60, () => ({ name: 'set', payload: JSON.stringify({ ...change, ts: Date.now(), sig: hex(), ...badEnvelope() }) }));
  if (mode === 'open') return out;
  add(60, () => ({ name: 'status', payload: accepted })); // replays of a command the agent accepted
  add(60, () => ({ name: 'set', payload: JSON.stringify({ ...change, ts: Date.now(), sig: hex() }) }));
  add(40, () => ({ name: 'set', payload: JSON.stringify(signCommand('not-the-secret', 'set', change)) }));
  add(40, () => ({ name: 'set', payload: JSON.stringify(signCommand(SECRET, 'status', change)) })); // signed for another command
  add(40, () => ({ name: 'set', payload: JSON.stringify(signCommand(SECRET, 'set', change, Date.now() - 6 * 60_000)) })); // stale
  add(40, () => ({ name: 'set', payload: JSON.stringify({ ...signCommand(SECRET, 'set', { threshold: 0.5 }), threshold: HOSTILE_THRESHOLD }) })); // tampered
  add(40, () => ({ name: 'set', payload: JSON.stringify(change) })); // unsigned
  return out;
}

interface Reply {
  ok: boolean;
  command: string;
  error?: string;
  result?: unknown;
}

const agents = new Set<ChildProcess>();
after(() => {
  for (const a of agents) a.kill('SIGKILL');
});

const mosquitto = findExecutable('mosquitto');
const ffmpeg = findExecutable('ffmpeg');

describe('command fuzz against the running agent', { skip: !mosquitto ? 'mosquitto is not installed' : !ffmpeg ? 'ffmpeg is not installed' : false }, () => {
  let dir: string;
  let bundle: string;
  let clip: string;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  before(async () => {
    dir = await tempDir();
    bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);
    clip = path.join(dir, 'line.mp4');
    execFileSync(ffmpeg!, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'smptebars=s=128x96:r=10', '-t', '3', '-pix_fmt', 'yuv420p', clip]);
    broker = await startMosquitto(mosquitto!);
  });
  after(() => broker?.stop());

  for (const mode of ['open', 'signed'] as const) {
    test(`${mode} mode: every hostile command gets an error reply; the agent lives, runs nothing, keeps its threshold`, HANG_GUARD, async () => {
      const device = `fuzz-${mode}`;
      const config = path.join(dir, `${device}.yaml`);
      await fs.writeFile(
        config,
        `device_id: ${device}
data_dir: ${path.join(dir, device)}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", topic_prefix: lw, protocol_version: 5${mode === 'signed' ? `, command_secret: ${SECRET}` : ''} }
cameras:
  line: { source: ${clip}, fps: 5, roi: [0, 0, 96, 96] }
detector: { result_rate_hz: 100 }
retune: { cron: null, min_normals: 1, max_normals: 4, steps: 5, min_interval_s: 0, sample_interval_s: 0 }
http: { enabled: false }
`,
      );
      const root = `lw/${device}`;
      const watch = await observer(broker.url, { protocolVersion: 5, clientId: `fuzzer-${mode}` }, [`${root}/#`, REPLY_TOPIC]);
      const replies = new Map<string, Reply>();
      let waiter: (() => void) | null = null;
      watch.client.on('message', (topic, payload, packet) => {
        const id = packet.properties?.correlationData?.toString();
        if (topic !== REPLY_TOPIC || id === undefined) return;
        replies.set(id, JSON.parse(payload.toString()) as Reply);
        waiter?.();
      });

      const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      agents.add(child);
      const log: string[] = [];
      child.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
      const handled = () => log.filter((l) => /\[commands\] command \{/.test(l)).length;

      let sent = 0;
      /** Publishes each command with a response topic and waits until every one has its reply. */
      const send = async (cmds: Fuzz[]): Promise<Reply[]> => {
        const ids = cmds.map(() => `c${sent++}`);
        for (let i = 0; i < cmds.length; i += 50) {
          await Promise.all(
            cmds.slice(i, i + 50).map((c, j) =>
              watch.client.publishAsync(`${root}/cmd/${c.name}`, c.payload, {
                qos: 1,
                properties: { responseTopic: REPLY_TOPIC, correlationData: Buffer.from(ids[i + j]) },
              }),
            ),
          );
        }
        const deadline = Date.now() + 60_000;
        while (!ids.every((id) => replies.has(id))) {
          if (child.exitCode !== null) assert.fail(`agent exited (${child.exitCode}):\n${log.slice(-20).join('\n')}`);
          if (Date.now() > deadline) assert.fail(`${ids.filter((id) => !replies.has(id)).length} of ${ids.length} commands got no reply within 60 s`);
          await new Promise<void>((r) => {
            waiter = r;
            setTimeout(r, 200);
          });
        }
        return ids.map((id) => replies.get(id)!);
      };
      const probe = (): Fuzz =>
        mode === 'signed' ? { name: 'status', payload: JSON.stringify(signCommand(SECRET, 'status', {})) } : { name: 'status', payload: '{}' };
      const nextResult = async () =>
        JSON.parse((await watch.next((m) => m.topic === `${root}/line/result`, watch.got.length)).payload.toString()) as ResultPayload;

      try {
        const first = await nextResult();
        const threshold = first.threshold;
        assert.notEqual(threshold, HOSTILE_THRESHOLD);
        // A command the agent accepts (so the replay class has one to replay), and proof it answers.
        const accepted = probe();
        assert.equal((await send([accepted]))[0].ok, true);
        let probes = 1;

        const rand = prng(SEED);
        const classes: Array<[string, Fuzz[]]> = [
          ['random bytes', randomBytes(rand, 600)],
          ['wrong types', wrongTypes(rand, mode, 600)],
          ['inherited names, depth 1-4', inheritedNames(mode)],
          ['30k-deep nesting', deepNesting(mode)],
          ['oversized (> 64 KiB)', oversized(rand, mode)],
          [mode === 'signed' ? 'replayed and forged signatures' : 'malformed ts / sig', signatures(rand, mode, accepted.payload as string)],
        ];
        const figures: string[] = [];
        for (const [label, cmds] of classes) {
          const got = await send(cmds);
          const wrong = got.map((r, i) => [r, cmds[i]] as const).filter(([r, c]) => r.ok !== false || r.command !== c.name || typeof r.error !== 'string');
          assert.deepEqual(
            wrong.slice(0, 3).map(([r, c]) => ({ reply: r, sent: c.name, payload: c.payload.toString().slice(0, 120) })),
            [],
            `${label}: ${wrong.length} commands were not refused`,
          );
          // alive and answering; nothing reached a handler but the probes; results flow with the old threshold
          assert.equal(child.exitCode, null, `agent exited during ${label}`);
          assert.equal((await send([probe()]))[0].ok, true, `agent does not answer after ${label}`);
          probes++;
          assert.equal(handled(), probes, `${label}: a handler ran`);
          assert.equal((await nextResult()).threshold, threshold, `${label}: threshold moved`);
          figures.push(`${label}: ${cmds.length} sent, ${got.length} error replies, 0 crashes`);
        }
        const results = watch.got.filter((m) => m.topic === `${root}/line/result`).map((m) => (JSON.parse(m.payload.toString()) as ResultPayload).threshold);
        assert.deepEqual([...new Set(results)], [threshold], 'every result carried the original threshold');
        const retunes = watch.got.filter((m) => m.topic === `${root}/retune/state` && !/"state":"idle"/.test(m.payload.toString()));
        assert.deepEqual(
          retunes.map((m) => m.payload.toString()),
          [],
          'no re-tuning job started',
        );
        const total = classes.reduce((n, [, c]) => n + c.length, 0);
        console.log(
          `command fuzz, ${mode} mode (seed ${SEED.toString(16)}): ${total} commands, ${total} error replies, 0 crashes, ${results.length} results at threshold ${threshold}\n  ${figures.join('\n  ')}`,
        );
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
        watch.client.end(true);
      }
    });
  }
});

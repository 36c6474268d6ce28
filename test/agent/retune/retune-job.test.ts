// The re-tune runner with the real tuner child (`linewatch tune` on a bundle from the tiny CLIP
// fixture): every outcome removes the job's work dir, a tuner killed by a signal is reported as
// killed, the agent activates an accepted set itself, and a tuner whose agent died exits without
// writing anything.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { RetuneStatePayload } from '../../../agent/contract/payloads.ts';
import { NormalReservoir } from '../../../agent/retune/reservoir.ts';
import { RetuneRunner } from '../../../agent/retune/retune-job.ts';
import { PromptStore } from '../../../tuning/prompt-store.ts';
import type { ScorerName } from '../../../tuning/scorer-names.ts';
import { createLogger } from '../../../util/log.ts';
import { REPO_ROOT } from '../../support/paths.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';
import { writeTexture } from '../../support/tuning-fixtures.ts';

const HANG_GUARD = { timeout: 180_000 }; // not a speed assertion: a hung tuner must not hang CI
let work: string;
let bundleDir: string;
const started: number[] = [];

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-retune-job-'));
  bundleDir = await buildTinyBundle(path.join(work, 'bundle'));
});
after(async () => {
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await fs.rm(work, { recursive: true, force: true });
});

/** A data_dir whose reservoir holds `n` normal frames of camera `cam`. */
async function dataDir(name: string, n = 9): Promise<string> {
  const dir = path.join(work, name);
  for (let i = 0; i < n; i++) await writeTexture(path.join(dir, 'reservoir/cam', `${String(i + 1).padStart(14, '0')}.png`), i + 20);
  return dir;
}

function runnerIn(dir: string, steps: number, states: RetuneStatePayload[] = [], scorers: ScorerName[] = ['prompt', 'memory']): RetuneRunner {
  const runner = new RetuneRunner({
    store: new PromptStore(path.join(dir, 'prompts')),
    workDir: path.join(dir, 'retune'),
    reservoir: new NormalReservoir({ dir: path.join(dir, 'reservoir'), maxFrames: 100, minIntervalMs: 0 }),
    minNormals: 3,
    maxNormals: 16,
    steps,
    scorers,
    log: createLogger('test'),
    onState: (s) => states.push(s),
  });
  runner.setBundle(bundleDir);
  return runner;
}

/** Pids of live processes whose command line mentions `text` (the tuner names its job's folder). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text) && alive(Number(name))) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Running, not a zombie waiting for a reaper (a container's pid 1 may never reap). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(holds: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!holds()) {
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('an accepted set is activated by the runner (the tuner runs with --no-activate); the work dir is removed', HANG_GUARD, async () => {
  const dir = await dataDir('done');
  // an agent whose detector.scorers is [prompt]: its tuner's gate judges the prompts alone
  const runner = runnerIn(dir, 8, [], ['prompt']);
  const job = runner.start({ trigger: 'command' });
  assert.ok(job.ok);
  const end = await job.value.done;
  assert.equal(end.state, 'done', end.message);
  assert.equal((await fs.readFile(path.join(dir, 'prompts/current'), 'utf8')).trim(), end.prompt_set);
  const set = JSON.parse(await fs.readFile(path.join(dir, `prompts/${end.prompt_set}.json`), 'utf8'));
  assert.deepEqual(set.config.scorers, ['prompt'], 'the runner passed detector.scorers to the tuner');
  assert.deepEqual(await fs.readdir(path.join(dir, 'retune')), []);
});

test('a failed tuner: the reason is reported and the work dir removed', HANG_GUARD, async () => {
  const dir = await dataDir('failed');
  const runner = runnerIn(dir, 8);
  runner.setBundle(path.join(work, 'no-such-bundle'));
  const job = runner.start({ trigger: 'command' });
  assert.ok(job.ok);
  const end = await job.value.done;
  assert.equal(end.state, 'failed');
  assert.match(end.message ?? '', /tuner exited with code 1: .*no-such-bundle/);
  assert.deepEqual(await fs.readdir(path.join(dir, 'retune')), []);
});

test('a tuner killed by SIGKILL is reported as killed; the work dir is removed', HANG_GUARD, async () => {
  const dir = await dataDir('killed');
  const states: RetuneStatePayload[] = [];
  const runner = runnerIn(dir, 100_000, states);
  const job = runner.start({ trigger: 'command' });
  assert.ok(job.ok);
  await until(() => processesMentioning(path.join(dir, 'retune')).length > 0, 'the tuner');
  for (const pid of processesMentioning(path.join(dir, 'retune'))) process.kill(pid, 'SIGKILL');
  const end = await job.value.done;
  assert.equal(end.state, 'failed');
  assert.match(end.message ?? '', /the tuner was killed by SIGKILL \(out of memory\?\)/);
  assert.equal(states.at(-1)?.message, end.message, 'P/retune/state carries the same message');
  assert.deepEqual(await fs.readdir(path.join(dir, 'retune')), []);
});

test('agent stop while tuning: the tuner is stopped, the job says so, the work dir is removed before abort resolves', HANG_GUARD, async () => {
  const dir = await dataDir('stopped');
  const runner = runnerIn(dir, 100_000);
  const job = runner.start({ trigger: 'command' });
  assert.ok(job.ok);
  await until(() => processesMentioning(path.join(dir, 'retune')).length > 0, 'the tuner');
  await runner.abort();
  assert.deepEqual(await fs.readdir(path.join(dir, 'retune')), []);
  assert.deepEqual(processesMentioning(path.join(dir, 'retune')), []);
  const end = await job.value.done;
  assert.equal(end.state, 'failed');
  assert.match(end.message ?? '', /the tuner was stopped \(SIGTERM\): the agent is stopping/);
});

test('a work dir left by an agent that was killed is removed at the next start', async () => {
  const dir = await dataDir('leftover', 0);
  await fs.mkdir(path.join(dir, 'retune/2025-01-01T00-00-00-000Z/normals'), { recursive: true });
  await runnerIn(dir, 8).removeLeftovers();
  assert.deepEqual(await fs.readdir(path.join(dir, 'retune')), []);
});

test('the tuner exits without writing when its agent is SIGKILLed (its pipe closes)', HANG_GUARD, async () => {
  const dir = await dataDir('orphan');
  // The "agent": a real process that starts a job and prints its states.
  const parentScript = path.join(work, 'parent.ts');
  await fs.writeFile(
    parentScript,
    `import path from 'node:path';
import { NormalReservoir } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'agent/retune/reservoir.ts')).href)};
import { RetuneRunner } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'agent/retune/retune-job.ts')).href)};
import { PromptStore } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'tuning/prompt-store.ts')).href)};
import { createLogger } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'util/log.ts')).href)};
const [dir, bundle] = process.argv.slice(2);
const runner = new RetuneRunner({
  store: new PromptStore(path.join(dir, 'prompts')),
  workDir: path.join(dir, 'retune'),
  reservoir: new NormalReservoir({ dir: path.join(dir, 'reservoir'), maxFrames: 100, minIntervalMs: 0 }),
  minNormals: 3, maxNormals: 16, steps: 100000, scorers: ['prompt', 'memory'], log: createLogger('parent'),
  onState: (s) => console.log(JSON.stringify(s)),
});
runner.setBundle(bundle);
runner.start({ trigger: 'command' });
`,
  );
  const parent = spawn(process.execPath, ['--import', 'tsx', parentScript, dir, bundleDir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(parent.pid!);
  let out = '';
  parent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => /"state":"tuning"/.test(out) && processesMentioning(path.join(dir, 'retune')).length > 0, 'the tuner under the parent');
  const tuners = processesMentioning(path.join(dir, 'retune'));
  started.push(...tuners);
  const storeBefore = await fs.readdir(path.join(dir, 'prompts')).catch(() => []);
  parent.kill('SIGKILL');
  await until(() => tuners.every((pid) => !alive(pid)), 'the orphaned tuner to exit', 30_000);
  assert.deepEqual(await fs.readdir(path.join(dir, 'prompts')).catch(() => []), storeBefore, 'no set, no current written');
});

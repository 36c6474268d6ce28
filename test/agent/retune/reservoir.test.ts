// The normal-frame reservoir and the re-tune runner's start conditions (the full job runs in test/e2e/agent.test.ts).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { RetuneStatePayload } from '../../../agent/contract/payloads.ts';
import { NormalReservoir } from '../../../agent/retune/reservoir.ts';
import { RetuneRunner } from '../../../agent/retune/retune-job.ts';
import { PromptStore } from '../../../tuning/prompt-store.ts';
import { createLogger } from '../../../util/log.ts';
import { mountSmallTmpfs, type SmallTmpfs, tmpfsUnavailable } from '../../support/small-tmpfs.ts';

const frame = (v: number) => new Uint8Array(4 * 4 * 3).fill(v);

test('the reservoir keeps the newest frames, at most one per interval, as readable PNGs', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-reservoir-'));
  const r = new NormalReservoir({ dir, maxFrames: 3, minIntervalMs: 1000 });
  const admitted: boolean[] = [];
  for (const [i, ts] of [0, 500, 1000, 2000, 3000, 3100, 4000].entries()) admitted.push(await r.offer('cam', frame(i * 10), 4, 4, ts));
  assert.deepEqual(admitted, [true, false, true, true, true, false, true]);
  const kept = await r.list('cam');
  assert.deepEqual(
    kept.map((f) => Number(path.basename(f, '.png'))),
    [2000, 3000, 4000],
  );
  const { data, info } = await sharp(kept[2]).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 4);
  assert.equal(data[0], 60, 'the frame offered at ts 4000 (value 60) is the newest kept');
  assert.deepEqual(await r.list('other'), []);
});

test('a re-tune with too few normal frames fails with the reason, and only one job runs at a time', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-retune-'));
  const reservoir = new NormalReservoir({ dir: path.join(dir, 'reservoir'), maxFrames: 10, minIntervalMs: 0 });
  await reservoir.offer('cam', frame(1), 4, 4, 1);
  const states: RetuneStatePayload[] = [];
  const runner = new RetuneRunner({
    store: new PromptStore(path.join(dir, 'prompts')),
    workDir: path.join(dir, 'work'),
    reservoir,
    minNormals: 4,
    maxNormals: 8,
    steps: 10,
    scorers: ['prompt', 'memory'],
    log: createLogger('test'),
    onState: (s) => states.push(s),
  });
  const first = runner.start({ trigger: 'command' });
  assert.ok(first.ok);
  const second = runner.start({ trigger: 'cron' });
  assert.ok(!second.ok);
  assert.match(second.error, /already running/);
  const end = await first.value.done;
  assert.equal(end.state, 'failed');
  assert.match(end.message ?? '', /1 collected, 4 needed \(retune\.min_normals\)/);
  assert.deepEqual(
    states.map((s) => s.state),
    ['collecting', 'failed'],
  );
  assert.ok(runner.start({ trigger: 'command' }).ok, 'a finished job frees the runner');
});

/** Captures this process's log lines (the logger writes to stderr). */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const original = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), lines: text.split('\n').filter(Boolean) };
  } finally {
    process.stderr.write = original;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('the reservoir on a full disk (a real tmpfs)', { skip: tmpfsUnavailable() ?? false }, () => {
  let disk: SmallTmpfs;
  before(async () => {
    disk = await mountSmallTmpfs('256k');
  });
  after(() => disk.unmount());

  test('frames that cannot be stored are counted by errno and logged once per episode; no temp file stays', async () => {
    const dir = path.join(disk.dir, 'reservoir');
    const drops: Array<[string, number]> = [];
    const r = new NormalReservoir({ dir, maxFrames: 100, minIntervalMs: 0, onDropped: (reason, n) => drops.push([reason, n]) });
    // A frame of noise does not compress: each PNG is about 48 KiB.
    const noise = (seed: number) => Uint8Array.from({ length: 128 * 128 * 3 }, (_, i) => (i * 2654435761 + seed * 97) % 251);
    assert.equal(await r.offer('cam', noise(0), 128, 128, 1), true);
    await disk.fill();
    const { value: kept, lines } = await captureStderr(async () => {
      const out: boolean[] = [];
      for (let i = 1; i <= 4; i++) out.push(await r.offer('cam', noise(i), 128, 128, 1 + i));
      return out;
    });
    assert.deepEqual(kept, [false, false, false, false]);
    const errors = lines.filter((l) => l.includes('cannot store normal frames'));
    assert.equal(errors.length, 1, lines.join('\n'));
    assert.match(errors[0], /\[reservoir\] cannot store normal frames: ENOSPC \(no space left on device\) — dropping until space returns/);
    assert.deepEqual(drops, [
      ['ENOSPC', 1],
      ['ENOSPC', 1],
      ['ENOSPC', 1],
      ['ENOSPC', 1],
    ]);
    assert.deepEqual(
      (await filesUnder(dir)).map((f) => path.relative(dir, f)),
      [path.join('cam', '00000000000001.png')],
      'no temp file left behind',
    );

    await disk.free();
    const { value: again, lines: resumed } = await captureStderr(() => r.offer('cam', noise(9), 128, 128, 10));
    assert.equal(again, true);
    assert.equal(resumed.filter((l) => /\[reservoir\] .*resumed/.test(l)).length, 1, resumed.join('\n'));
    assert.equal((await r.list('cam')).length, 2);
  });
});

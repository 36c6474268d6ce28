// The normal-frame reservoir and the re-tune runner's start conditions (the full job runs in agent.test.ts).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { RetuneStatePayload } from '../agent/mqtt/payloads.ts';
import { NormalReservoir } from '../agent/retune/reservoir.ts';
import { RetuneRunner } from '../agent/retune/retune-job.ts';
import { createLogger } from '../util/log.ts';

const frame = (v: number) => new Uint8Array(4 * 4 * 3).fill(v);

test('the reservoir keeps the newest frames, at most one per interval, as readable PNGs', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-reservoir-'));
  const r = new NormalReservoir({ dir, maxFrames: 3, minIntervalMs: 1000 });
  const admitted: boolean[] = [];
  for (const [i, ts] of [0, 500, 1000, 2000, 3000, 3100, 4000].entries()) admitted.push(await r.offer('cam', frame(i * 10), 4, 4, ts));
  assert.deepEqual(admitted, [true, false, true, true, true, false, true]);
  const kept = await r.list('cam');
  assert.deepEqual(kept.map((f) => Number(path.basename(f, '.png'))), [2000, 3000, 4000]);
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
    promptsDir: path.join(dir, 'prompts'),
    workDir: path.join(dir, 'work'),
    reservoir,
    minNormals: 4,
    maxNormals: 8,
    steps: 10,
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
  assert.deepEqual(states.map((s) => s.state), ['collecting', 'failed']);
  assert.ok(runner.start({ trigger: 'command' }).ok, 'a finished job frees the runner');
});

// The agent on a full disk, as it happens on a device: `data_dir` on a 1 MiB tmpfs, the broker
// down, a real agent process producing events (a `dir:` camera; the threshold toggled through the
// page's HTTP commands opens and ends an event per toggle). The disk is filled with a filler file:
// events are dropped, counted (/metrics) and logged once, no temp file stays. Then the space comes
// back and the broker starts (mosquitto on the port the agent was configured with): the events
// stored before the disk filled and after the space returned are delivered, and the event counter
// counted exactly those.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EventPayload } from '../../agent/contract/payloads.ts';
import { buildBundle } from '../../models/bundle/build.ts';
import { findExecutable, freePort, observer, sleep, startMosquitto, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { mountSmallTmpfs, type SmallTmpfs, tmpfsUnavailable } from '../support/small-tmpfs.ts';
import { writeTexture } from '../support/tuning-fixtures.ts';

const CLI = path.join(REPO_ROOT, 'bin/linewatch.js');
const HANG_GUARD = { timeout: 300_000 }; // not a speed assertion: a hung agent must not hang CI
const mosquitto = findExecutable('mosquitto');

/** The samples of one metric from a Prometheus text page, by their label string. */
function samples(page: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of page.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function filesUnder(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('full disk', { skip: tmpfsUnavailable() ?? (!mosquitto ? 'mosquitto is not installed' : false) }, () => {
  let disk: SmallTmpfs;
  let agent: ChildProcess | null = null;
  before(async () => {
    disk = await mountSmallTmpfs('1m');
  });
  after(async () => {
    agent?.kill('SIGKILL');
    if (agent && agent.exitCode === null) await new Promise((r) => agent!.once('exit', r));
    await disk.unmount();
  });

  test('events are dropped, counted and logged once while the disk is full; no temp file stays; delivery resumes when space returns', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const bundle = path.join(dir, 'bundle');
    const built = await buildBundle({ weights: path.join(REPO_ROOT, 'test/fixtures/clip-tiny'), out: bundle });
    assert.ok(built.ok, built.ok ? '' : built.error);
    const frames = path.join(dir, 'frames');
    for (let i = 0; i < 3; i++) await writeTexture(path.join(frames, `f${i}.png`), i);

    // The plant's subscriber: a persistent session made while the broker was up once, so that it
    // gets every event the agent delivers later, however the reconnects race.
    const broker = await startMosquitto(mosquitto!, ['allow_anonymous true', 'max_queued_messages 0']);
    t.after(() => broker.stop());
    const plant = { clientId: 'plant-full-disk', clean: false, protocolVersion: 4 as const };
    (await observer(broker.url, plant, ['lw/disk1/+/events'])).client.end(true);
    await broker.stop();

    const dataDir = path.join(disk.dir, 'var');
    const httpPort = await freePort();
    const config = path.join(dir, 'agent.yaml');
    await fs.writeFile(
      config,
      `device_id: disk1
data_dir: ${dataDir}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", topic_prefix: lw }
cameras:
  line: { source: "dir:${frames}", fps: 10 }
detector: { event_open_frames: 1, event_close_frames: 1, publish_masks: never, event_update_interval_s: 60 }
retune: { cron: null, sample_interval_s: 0, min_normals: 4, max_normals: 8 }
http: { port: ${httpPort} }
`,
    );
    const log: string[] = [];
    agent = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr!.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
    const exited = new Promise<number | null>((resolve) => agent!.once('exit', resolve));

    const http = `http://127.0.0.1:${httpPort}`;
    const metrics = async () => (await (await fetch(`${http}/metrics`)).text()) as string;
    const command = async (body: object) => {
      const res = await fetch(`${http}/api/cmd/set`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const reply = (await res.json()) as { ok: boolean; error?: string };
      assert.equal(reply.ok, true, reply.error);
    };
    const until = async (holds: () => Promise<boolean> | boolean, what: string, timeoutMs = 90_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await holds())) {
        if (agent!.exitCode !== null) assert.fail(`the agent exited (${agent!.exitCode}) while waiting for ${what}:\n${log.slice(-20).join('\n')}`);
        if (Date.now() > deadline) assert.fail(`waited ${timeoutMs / 1000} s for ${what}:\n${log.slice(-20).join('\n')}`);
        await sleep(200);
      }
    };
    await until(
      () =>
        fetch(`${http}/api/state`).then(
          (r) => r.ok,
          () => false,
        ),
      'the live page',
    );
    const counted = async () => total(samples(await metrics(), 'linewatch_events_total'));
    const dropped = async (name: string) => samples(await metrics(), name).get('{reason="ENOSPC"}') ?? 0;
    /** Opens and ends events by toggling the threshold while `holds`: one event per toggle. */
    const produce = async (holds: () => Promise<boolean>, what: string) => {
      let anomalous = false;
      await until(async () => {
        anomalous = !anomalous;
        await command({ threshold: anomalous ? 0 : 1 });
        await sleep(300);
        return holds();
      }, what);
    };

    // 1. disk with space, broker down: events are stored
    await produce(async () => (await counted()) >= 4, 'events stored in the outbox');
    // 2. disk full: events are dropped, counted and logged once
    await disk.fill();
    await produce(async () => (await dropped('linewatch_outbox_dropped_total')) >= 10, '10 events dropped on the full disk');
    await command({ camera: 'line', enabled: false }); // nothing writes any more: the listing below is stable
    await sleep(1000);
    const full = await metrics();
    const countedWhileFull = total(samples(full, 'linewatch_events_total'));
    const droppedEvents = samples(full, 'linewatch_outbox_dropped_total').get('{reason="ENOSPC"}') ?? 0;
    const droppedFrames = samples(full, 'linewatch_reservoir_dropped_total').get('{reason="ENOSPC"}') ?? 0;
    assert.ok(droppedFrames > 0, 'the reservoir, which takes every zero-shot frame, dropped frames too');
    const cannot = log.filter((l) => /\[outbox\] cannot store events: ENOSPC \(no space left on device\) — dropping until space returns/.test(l));
    assert.equal(cannot.length, 1, `one log line for the episode:\n${log.filter((l) => /cannot store/.test(l)).join('\n')}`);
    assert.equal(log.filter((l) => /\[reservoir\] cannot store normal frames: ENOSPC/.test(l)).length, 1);
    const temps = (await filesUnder(dataDir)).filter((f) => path.basename(f).endsWith('.tmp'));
    assert.deepEqual(temps, [], 'no temp file left under data_dir');
    const outboxFiles = (await fs.readdir(path.join(dataDir, 'outbox'))).length;
    assert.equal(outboxFiles, countedWhileFull, 'the event counter counts exactly the events on disk');

    // 3. space back: writing resumes by itself (one "resumed" line), new events are stored
    await disk.free();
    await command({ camera: 'line', enabled: true });
    const freedAt = Date.now();
    await produce(async () => (await counted()) >= countedWhileFull + 4, 'events stored after space returned');
    await command({ camera: 'line', enabled: false });
    await sleep(1000);
    assert.equal(log.filter((l) => /\[outbox\] storing events again: resumed/.test(l)).length, 1, log.filter((l) => /outbox/.test(l)).join('\n'));
    const countedTotal = await counted();

    // 4. broker up: every counted event is delivered, including those produced after space returned
    await broker.start();
    const watch = await observer(broker.url, plant, ['lw/disk1/+/events']);
    const delivered = () => new Set(watch.got.map((m) => m.payload.toString()));
    await until(() => delivered().size >= countedTotal, `${countedTotal} events delivered`);
    await sleep(2000); // nothing more than what was counted arrives
    const events = [...delivered()].map((p) => JSON.parse(p) as EventPayload);
    assert.equal(events.length, countedTotal);
    assert.ok(
      events.some((e) => e.type === 'new' && e.start_ts >= freedAt),
      'an event opened after space returned was delivered',
    );
    const produced = countedTotal + droppedEvents;
    console.log(
      `full disk figures: produced ${produced} events, delivered ${events.length}, counted dropped ${droppedEvents} (ENOSPC); reservoir frames dropped ${droppedFrames}`,
    );
    assert.equal(samples(await metrics(), 'linewatch_outbox_dropped_total').get('{reason="ENOSPC"}'), droppedEvents, 'no drop after space returned');

    agent.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Deliver, openOutbox } from '../../../agent/mqtt/outbox.ts';
import { mountSmallTmpfs, type SmallTmpfs, tmpfsUnavailable } from '../../support/small-tmpfs.ts';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'linewatch-outbox-'));
  roots.push(dir);
  return path.join(dir, 'outbox');
}

/** A broker stand-in that records what it got and acknowledges when the test says so. */
function recordingDeliver() {
  const got: Array<{ topic: string; payload: string; ack: () => void }> = [];
  let arrived: (() => void) | null = null;
  const deliver: Deliver = (topic, payload) =>
    new Promise<void>((resolve) => {
      got.push({ topic, payload: payload.toString(), ack: resolve });
      arrived?.();
    });
  const waitFor = async (n: number) => {
    while (got.length < n) await new Promise<void>((r) => (arrived = r));
  };
  return { got, deliver, waitFor };
}

/** Captures this process's log lines (the logger writes to stderr). */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let lines = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), lines };
  } finally {
    process.stderr.write = original;
  }
}

test('messages written before a restart are delivered after it, in order, and deleted only once acknowledged', async () => {
  const dir = await tempDir();
  const first = await openOutbox({ dir, maxBytes: 1 << 20 });
  for (const p of ['e1', 'e2', 'e3']) assert.deepEqual(await first.enqueue(`lw/dev/cam/events`, Buffer.from(p)), { ok: true, value: undefined });
  assert.equal(first.depth, 3);
  await first.close(); // the process "dies" here: nothing was delivered

  const second = await openOutbox({ dir, maxBytes: 1 << 20, maxInFlight: 2 });
  assert.equal(second.depth, 3);
  const broker = recordingDeliver();
  second.resume(broker.deliver);
  await broker.waitFor(2);
  // Window of 2: the third waits for an acknowledgement, and nothing is deleted before one.
  assert.deepEqual(
    broker.got.map((g) => g.payload),
    ['e1', 'e2'],
  );
  assert.equal((await fs.readdir(dir)).length, 3);
  broker.got[0].ack();
  await broker.waitFor(3);
  assert.deepEqual(
    broker.got.map((g) => g.payload),
    ['e1', 'e2', 'e3'],
  );
  assert.equal(broker.got[2].topic, 'lw/dev/cam/events');
  broker.got[1].ack();
  broker.got[2].ack();
  assert.equal(await second.drain(30_000), 0);
  assert.deepEqual(await fs.readdir(dir), []);
  await second.close();
});

test('over the byte budget the oldest messages are evicted and counted', async () => {
  const dir = await tempDir();
  // Each entry is a 14-byte header + 1-byte topic + 100-byte payload = 115 bytes: 300 holds two.
  const evictions: number[] = [];
  const outbox = await openOutbox({ dir, maxBytes: 300, onEvicted: (n) => evictions.push(n) });
  for (let i = 1; i <= 5; i++) await outbox.enqueue('t', Buffer.alloc(100, 48 + i));
  assert.equal(outbox.depth, 2);
  assert.equal(outbox.bytes, 230);
  assert.equal(outbox.evicted, 3);
  assert.deepEqual(evictions, [1, 1, 1]);

  const oversized = await outbox.enqueue('t', Buffer.alloc(400));
  assert.equal(oversized.ok, false);
  assert.equal(outbox.evicted, 4);
  assert.equal(outbox.depth, 2);

  const broker = recordingDeliver();
  outbox.resume(broker.deliver);
  await broker.waitFor(2);
  assert.deepEqual(
    broker.got.map((g) => g.payload[0]),
    ['4', '5'],
  );
  for (const g of broker.got) g.ack();
  assert.equal(await outbox.drain(30_000), 0);
  await outbox.close();
});

test('a truncated or damaged entry on disk is skipped with a log line, the others still go out', async () => {
  const dir = await tempDir();
  const first = await openOutbox({ dir, maxBytes: 1 << 20 });
  for (const p of ['good-1', 'cut-short', 'bit-flipped', 'good-2']) await first.enqueue('t', Buffer.from(p));
  await first.close();
  const files = (await fs.readdir(dir)).sort();
  assert.equal(files.length, 4);
  const cut = path.join(dir, files[1]);
  await fs.truncate(cut, (await fs.stat(cut)).size - 3);
  const flipped = path.join(dir, files[2]);
  const bytes = await fs.readFile(flipped);
  bytes[bytes.length - 1] ^= 0x01;
  await fs.writeFile(flipped, bytes);
  await fs.writeFile(path.join(dir, '.0000000000000005.msg.123.456.tmp'), 'half a write');

  const { value: second, lines } = await captureStderr(() => openOutbox({ dir, maxBytes: 1 << 20 }));
  assert.match(lines, new RegExp(`skipping a damaged outbox entry.*${files[1]}.*truncated`));
  assert.match(lines, new RegExp(`skipping a damaged outbox entry.*${files[2]}.*checksum`));
  assert.equal(second.depth, 2);
  const broker = recordingDeliver();
  second.resume(broker.deliver);
  await broker.waitFor(2);
  assert.deepEqual(
    broker.got.map((g) => g.payload),
    ['good-1', 'good-2'],
  );
  for (const g of broker.got) g.ack();
  assert.equal(await second.drain(30_000), 0);
  assert.deepEqual(await fs.readdir(dir), []);
  await second.close();
});

test('a message whose delivery fails with the connection stays queued and goes out on the next try', async () => {
  const dir = await tempDir();
  const outbox = await openOutbox({ dir, maxBytes: 1 << 20 });
  await outbox.enqueue('t', Buffer.from('only'));
  let attempts = 0;
  const delivered: string[] = [];
  outbox.resume(async (_topic, payload) => {
    attempts++;
    if (attempts === 1) throw new Error('Connection closed');
    delivered.push(payload.toString());
  });
  assert.equal(await outbox.drain(30_000), 0);
  assert.equal(attempts, 2);
  assert.deepEqual(delivered, ['only']);
  await outbox.close();
});

test('a message the broker refuses (negative PUBACK) is dropped instead of blocking the queue', async () => {
  const dir = await tempDir();
  const outbox = await openOutbox({ dir, maxBytes: 1 << 20 });
  await outbox.enqueue('t', Buffer.from('refused'));
  await outbox.enqueue('t', Buffer.from('accepted'));
  const delivered: string[] = [];
  outbox.resume(async (_topic, payload) => {
    if (payload.toString() === 'refused') throw Object.assign(new Error('Publish error: Not authorized'), { code: 135 });
    delivered.push(payload.toString());
  });
  assert.equal(await outbox.drain(30_000), 0);
  assert.deepEqual(delivered, ['accepted']);
  await outbox.close();
});

describe('on a full disk (a real tmpfs)', { skip: tmpfsUnavailable() ?? false }, () => {
  let disk: SmallTmpfs;
  before(async () => {
    disk = await mountSmallTmpfs('256k');
  });
  after(() => disk.unmount());

  test('failed writes are dropped, counted by errno and logged once per episode; no temp file stays; writing resumes by itself', async () => {
    const dir = path.join(disk.dir, 'outbox');
    const drops: Array<[string, number]> = [];
    const outbox = await openOutbox({ dir, maxBytes: 1 << 20, onDropped: (reason, n) => drops.push([reason, n]) });
    await disk.fill();
    const { value: failed, lines } = await captureStderr(async () => {
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await outbox.enqueue('t', Buffer.alloc(8192, i)));
      return results;
    });
    assert.ok(
      failed.every((r) => !r.ok && /ENOSPC/.test(r.error)),
      JSON.stringify(failed),
    );
    const warnings = lines.split('\n').filter((l) => l.includes('cannot store events'));
    assert.equal(warnings.length, 1, lines);
    assert.match(warnings[0], /\[outbox\] cannot store events: ENOSPC \(no space left on device\) — dropping until space returns/);
    assert.deepEqual(drops, [
      ['ENOSPC', 1],
      ['ENOSPC', 1],
      ['ENOSPC', 1],
      ['ENOSPC', 1],
      ['ENOSPC', 1],
    ]);
    assert.deepEqual(outbox.dropped, { ENOSPC: 5 });
    assert.equal(outbox.depth, 0);
    assert.deepEqual(await fs.readdir(dir), [], 'no temp file left behind');

    await disk.free();
    const { value: stored, lines: resumed } = await captureStderr(async () => [
      await outbox.enqueue('t', Buffer.from('a')),
      await outbox.enqueue('t', Buffer.from('b')),
    ]);
    assert.deepEqual(
      stored.map((r) => r.ok),
      [true, true],
    );
    assert.equal(resumed.split('\n').filter((l) => /\[outbox\] .*resumed/.test(l)).length, 1, resumed);
    assert.match(resumed, /"dropped":5/);
    assert.equal(outbox.depth, 2);

    // A second episode is logged again.
    await disk.fill();
    const { lines: again } = await captureStderr(() => outbox.enqueue('t', Buffer.alloc(8192)));
    assert.equal(again.split('\n').filter((l) => l.includes('cannot store events')).length, 1, again);
    assert.deepEqual(outbox.dropped, { ENOSPC: 6 });
    await outbox.close();
    await disk.free();
  });
});

test('evicted and refused messages are counted as dropped with their reason', async () => {
  const dir = await tempDir();
  const drops: Record<string, number> = {};
  const outbox = await openOutbox({ dir, maxBytes: 300, onDropped: (reason, n) => (drops[reason] = (drops[reason] ?? 0) + n) });
  for (let i = 1; i <= 3; i++) await outbox.enqueue('t', Buffer.alloc(100, 48 + i));
  outbox.resume(async (_topic, payload) => {
    if (payload[0] === 51) throw Object.assign(new Error('Publish error: Not authorized'), { code: 135 });
  });
  assert.equal(await outbox.drain(30_000), 0);
  assert.deepEqual(drops, { evicted: 1, refused: 1 });
  assert.deepEqual(outbox.dropped, { evicted: 1, refused: 1 });
  await outbox.close();
});

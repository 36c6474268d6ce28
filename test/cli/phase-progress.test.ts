import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTuneProgressLine, tuneProgressText } from '../../agent/contract/tune-progress.ts';
import { createProgress, formatAmount, formatDuration } from '../../util/progress.ts';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: Object.assign({ write: (s: string) => (chunks.push(s), true) }, { isTTY, columns: 200 }) as never };
}

test('plain output: one line per 10 %, then a final line with the elapsed time', () => {
  const { chunks, stream } = fakeStream(false);
  let t = 0;
  const p = createProgress('weights.bin', 1000, 'items', { stream, now: () => t });
  for (let done = 0; done <= 990; done += 5) {
    p.update(done);
    t += 10; // 5 items per 10 ms = 500 items/s
  }
  p.done();
  assert.equal(chunks.length, 11);
  assert.ok(chunks.every((c) => c.endsWith('\n') && !c.includes('\r')));
  assert.match(chunks[0], /^weights\.bin {2}\s*0% {2}0\/1000/);
  assert.match(chunks[5], /^weights\.bin {3}50% {2}500\/1000 {2}500\/s {2}ETA 1s\n$/);
  assert.match(chunks[9], / 90% {2}900\/1000/);
  assert.match(chunks[10], /^weights\.bin {2}100% {2}1000\/1000 {2}.* {2}in 2s\n$/);
});

test('terminal output: redrawn in place with a bar, throttled, ended by a newline', () => {
  const { chunks, stream } = fakeStream(true);
  let t = 0;
  const p = createProgress('model', 4 * 1024 * 1024, 'bytes', { stream, now: () => t });
  p.update(1024 * 1024); // resumed: the first megabyte was already there and is not counted in the rate
  t = 50;
  p.update(1.5 * 1024 * 1024); // within 100 ms of the last draw: not drawn
  t = 1000;
  p.update(2 * 1024 * 1024);
  p.done();
  assert.equal(chunks.length, 3);
  assert.ok(chunks.every((c) => c.startsWith('\r')));
  assert.match(chunks[1], /\[#{12}-{12}\] {2}50% {2}2\.0 MiB\/4\.0 MiB {2}1\.0 MiB\/s {2}ETA 2s/);
  assert.ok(chunks[2].endsWith('\n') && chunks[2].includes(`[${'#'.repeat(24)}] 100%`));
});

test('fail ends a drawn terminal line without claiming completion', () => {
  const { chunks, stream } = fakeStream(true);
  const p = createProgress('x', 10, 'items', { stream, now: () => 0 });
  p.update(3);
  p.fail();
  p.done();
  assert.deepEqual(chunks.slice(1), ['\n']);
});

test('amount and duration formatting', () => {
  assert.equal(formatAmount(512, 'bytes'), '512 B');
  assert.equal(formatAmount(1536, 'bytes'), '1.5 KiB');
  assert.equal(formatAmount(3 * 1024 ** 3, 'bytes'), '3.0 GiB');
  assert.equal(formatAmount(7, 'items'), '7');
  assert.equal(formatDuration(59.4), '59s');
  assert.equal(formatDuration(61), '1m01s');
  assert.equal(formatDuration(3 * 3600 + 5 * 60), '3h05m');
});

test('tuner progress lines: what the tuner writes reads back; a bad line is named by its key path and the value found', () => {
  const result = { type: 'result', id: 'ps-1', path: '/p/ps-1.json', status: 'rejected', metrics: { syntheticAuroc: 0.5 }, reason: 'AUROC too low' } as const;
  assert.deepEqual(parseTuneProgressLine(tuneProgressText(result).trimEnd()), { ok: true, value: result });
  assert.deepEqual(parseTuneProgressLine('{"type":"progress","phase":"steps","done":3,"total":10}'), {
    ok: true,
    value: { type: 'progress', phase: 'steps', done: 3, total: 10 },
  });
  const refused = (line: string) => {
    const r = parseTuneProgressLine(line);
    return r.ok ? 'accepted' : r.error;
  };
  assert.equal(
    refused('{"type":"progress","phase":"warp","done":-1,"total":10}'),
    'tuner progress line "{\\"type\\":\\"progress\\",\\"phase\\":\\"warp\\",\\"done\\":-1,\\"total\\":10}": phase must be one of synthesis, features, steps, calibration (found "warp"); done must be >= 0 (found -1)',
  );
  assert.match(
    refused('{"type":"result","id":"ps-1","path":"/p","status":"accepted","metrics":{"auroc":"high"}}'),
    /: metrics\.auroc must be number \(found "high"\)$/,
  );
  assert.match(refused('{"type":"result","id":"ps-1","path":"/p","status":"accepted"}'), /: metrics is required$/);
  assert.match(refused('{"type":"done"}'), /: type must be one of progress, result \(found "done"\)$/);
  assert.match(refused('{"__proto__":{"type":"progress"},"phase":"steps","done":1,"total":2}'), /: type must be one of progress, result \(found undefined\)$/);
  assert.match(refused('{"__proto__":{"polluted":true},"type":"progress","phase":"steps","done":1,"total":2}'), /: __proto__ is not a known key$/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.match(refused('step 3 of 10'), /^tuner progress line "step 3 of 10": not JSON/);
});

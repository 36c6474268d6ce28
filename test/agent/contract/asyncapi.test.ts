import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { loadContractChannels } from '../../support/asyncapi-channels.ts';
import { REPO_ROOT } from '../../support/paths.ts';

const DOC = path.join(REPO_ROOT, 'docs/asyncapi.json');
const TIMEOUT = { timeout: 120_000 }; // the parser's first run loads its rule sets; a hang guard only

// Spectral's severities: 0 error, 1 warning, 2 information, 3 hint.
const ERROR = 0;

async function parseErrors(text: string) {
  const { document, diagnostics } = await new Parser().parse(text);
  return { document, errors: diagnostics.filter((d) => d.severity === ERROR).map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`) };
}

test('the committed AsyncAPI document parses without a diagnostic of severity error', TIMEOUT, async () => {
  const { document, errors } = await parseErrors(readFileSync(DOC, 'utf8'));
  assert.deepEqual(errors, []);
  assert.ok(document, 'the parser returned a document');
  assert.equal(document.version(), '3.0.0');
});

test('a document the parser finds fault with is reported with its errors', TIMEOUT, async () => {
  const doc = JSON.parse(readFileSync(DOC, 'utf8'));
  doc.operations.sendResult.bindings.mqtt.qos = 3;
  const { errors } = await parseErrors(JSON.stringify(doc));
  assert.ok(
    errors.some((e) => e.includes('operations.sendResult.bindings.mqtt')),
    errors.join('\n') || 'no errors',
  );
});

test('the document carries the contract of DESIGN.md: QoS, retain, expiry, the Will, request/reply', TIMEOUT, async () => {
  const { document } = await new Parser().parse(readFileSync(DOC, 'utf8'));
  assert.ok(document);
  const addresses = Object.fromEntries(
    document
      .channels()
      .all()
      .map((c) => [c.id(), c.address()]),
  );
  assert.deepEqual(addresses, {
    status: '{prefix}/{device_id}/status',
    stats: '{prefix}/{device_id}/stats',
    retuneState: '{prefix}/{device_id}/retune/state',
    cameraStatus: '{prefix}/{device_id}/{camera}/status',
    result: '{prefix}/{device_id}/{camera}/result',
    mask: '{prefix}/{device_id}/{camera}/mask',
    events: '{prefix}/{device_id}/{camera}/events',
    command: '{prefix}/{device_id}/cmd/{command}',
    commandReply: '{prefix}/{device_id}/cmd/{command}/reply',
    commandResponse: null,
  });
  const flags = Object.fromEntries(
    document
      .operations()
      .all()
      .map((o) => {
        const { qos, retain, messageExpiryInterval } = o.bindings().get('mqtt')!.value() as { qos: number; retain: boolean; messageExpiryInterval?: number };
        return [o.id(), [o.action(), qos, retain, messageExpiryInterval ?? null]];
      }),
  );
  assert.deepEqual(flags, {
    sendStatus: ['send', 1, true, null],
    sendStats: ['send', 0, false, null],
    sendRetuneState: ['send', 1, true, null],
    sendCameraStatus: ['send', 1, true, null],
    sendResult: ['send', 0, false, 10],
    sendMask: ['send', 0, false, 10],
    sendEvents: ['send', 1, false, null],
    receiveCommand: ['receive', 1, false, null],
    sendCommandReply: ['send', 1, false, null],
  });
  const will = document.servers().get('broker')?.bindings().get('mqtt')?.value() as { lastWill: unknown };
  assert.deepEqual(will.lastWill, { topic: '{prefix}/{device_id}/status', qos: 1, message: 'offline', retain: true });
  const reply = document.operations().get('receiveCommand')?.reply();
  assert.equal(reply?.address()?.location(), '$message.header#/responseTopic');
  assert.equal(reply?.channel()?.id(), 'commandResponse');
  assert.equal(document.channels().get('mask')?.messages().all()[0].contentType(), 'image/png');
});

test('the channel check refuses a payload with a wrong field, naming it, and a topic of no channel', () => {
  const contract = loadContractChannels({ prefix: ['lw'], camera: ['cam1'] });
  const [result] = contract.matching('lw/dev/cam1/result');
  assert.equal(result?.name, 'result');
  const good = {
    ts: 1,
    frame_id: 7,
    score: 0.8,
    raw_score: 0.3,
    scores: { prompt: 0.3 },
    anomalous: true,
    threshold: 0.5,
    prompt_set: 'ps-1',
    latency_ms: { pre: 1, infer: 2, post: 3 },
  };
  assert.equal(result.problem(Buffer.from(JSON.stringify(good))), null);
  assert.equal(result.problem(Buffer.from(JSON.stringify({ ...good, score: 'high' }))), 'score: must be number');
  assert.equal(result.problem(Buffer.from(JSON.stringify({ ...good, latency_ms: { pre: 1, infer: 2 } }))), 'latency_ms.post: is required');
  assert.equal(result.problem(Buffer.from(JSON.stringify({ ...good, extra: 1 }))), 'extra: unknown key');
  assert.match(result.problem(Buffer.from('{')) ?? '', /^not JSON/);

  const [status] = contract.matching('lw/dev/status');
  assert.equal(status.problem(Buffer.from('offline')), null);
  assert.notEqual(status.problem(Buffer.from('sleeping')), null);
  assert.equal(contract.matching('lw/dev/cam1/mask')[0].problem(Buffer.from('not a png')), 'not a PNG (no PNG signature)');

  assert.deepEqual(contract.matching('lw/dev/cam1/unknown'), []);
  assert.deepEqual(contract.matching('other/dev/cam1/result'), [], 'another prefix is not this contract');
  assert.deepEqual(
    contract.matching('lw/dev/cmd/status').map((c) => [c.name, c.action]),
    [['command', 'receive']],
    'P/cmd/status is a command, not a camera "cmd"',
  );
  assert.deepEqual(
    contract.matching('lw/dev/cmd/status/reply').map((c) => c.name),
    ['commandReply'],
  );
  assert.deepEqual(
    contract.matching('lw/dev/cmd/explode/reply').map((c) => c.name),
    ['commandReply'],
    'an unknown command is answered too',
  );
});

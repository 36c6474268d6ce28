import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { createCommandDispatcher } from '../../../agent/commands/dispatcher.ts';
import { canonicalJson, signCommand } from '../../../agent/commands/signature.ts';
import type { CommandDispatcher, CommandHandlers, CommandReply } from '../../../agent/commands/types.ts';
import { createTopics } from '../../../agent/contract/topics.ts';
import { attachCommandChannel } from '../../../agent/mqtt/command-channel.ts';
import { connectMqtt } from '../../../agent/mqtt/connection.ts';
import { err, ok } from '../../../util/result.ts';
import { findExecutable, observer, startMosquitto } from '../../support/mqtt-harness.ts';

/** Test double for the agent: records every call, answers with fixed values. */
function recordingHandlers() {
  const calls: Array<[string, unknown]> = [];
  const handlers: CommandHandlers = {
    retune: async (a) => (calls.push(['retune', a]), ok({ job: 'started' })),
    rollback: async () => (calls.push(['rollback', {}]), ok({ prompt_set: 'ps-0001' })),
    reload: async () => (calls.push(['reload', {}]), ok(null)),
    set: async (a) => (calls.push(['set', a]), a.camera === 'ghost' ? err('no camera "ghost"') : ok(a)),
    snapshot: async (a) => (calls.push(['snapshot', a]), ok({ path: `/var/snap/${a.camera}.png` })),
    status: async () => {
      calls.push(['status', {}]);
      throw new Error('status exploded');
    },
  };
  return { calls, handlers };
}

const T0 = 1_700_000_000_000;
const SECRET = 'line-1-secret';

test('a valid command reaches its handler and the reply echoes request_id and the result', async () => {
  const { calls, handlers } = recordingHandlers();
  const d = createCommandDispatcher(handlers, { secret: null });
  const reply = await d.dispatch({ name: 'set', payload: '{"request_id":"r1","camera":"cam1","threshold":0.25,"enabled":false}' });
  assert.deepEqual(reply, { ok: true, command: 'set', request_id: 'r1', result: { camera: 'cam1', threshold: 0.25, enabled: false } });
  assert.deepEqual(calls, [['set', { camera: 'cam1', threshold: 0.25, enabled: false }]]);
  // threshold null: the override is dropped (back to the prompt set's threshold)
  assert.equal((await d.dispatch({ name: 'set', payload: '{"threshold":null}' })).ok, true);
  assert.deepEqual(calls[1], ['set', { threshold: null }]);
  // An empty payload is an empty object.
  assert.deepEqual(await d.dispatch({ name: 'reload', payload: Buffer.alloc(0) }), { ok: true, command: 'reload', result: null });
});

test('bad commands get an error reply and never reach a handler', async () => {
  const { calls, handlers } = recordingHandlers();
  const d = createCommandDispatcher(handlers, { secret: null });
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['explode', '{}', /unknown command "explode"/],
    ['retune', '{"camera": "cam1",', /not valid JSON/],
    ['retune', '[1,2]', /must be a JSON object/],
    ['retune', Buffer.alloc(64 * 1024 + 1, 0x20), /65537 bytes exceeds the 65536-byte limit/],
    ['retune', '{"camera":"cam1","force":true}', /unknown field "force" for retune \(fields: camera\)/],
    ['set', '{"threshold":1.5}', /"threshold" must be a number from 0 to 1/],
    ['set', '{"threshold":"0.5"}', /"threshold" must be a number from 0 to 1, or null for the prompt set's own threshold/],
    ['set', '{"camera":"cam1"}', /at least one of/],
    ['set', '{"enabled":true}', /"enabled" needs "camera"/],
    ['snapshot', '{}', /snapshot needs "camera"/],
    ['status', '{"verbose":1}', /it takes no arguments/],
    ['status', '{"request_id":42}', /"request_id" must be a string/],
  ];
  for (const [name, payload, expected] of cases) {
    const reply = await d.dispatch({ name, payload });
    assert.equal(reply.ok, false, `${name} ${payload}`);
    assert.equal(reply.command, name);
    assert.match((reply as { error: string }).error, expected);
  }
  assert.deepEqual(calls, []);
});

test('handler errors and exceptions become error replies with the request id', async () => {
  const { handlers } = recordingHandlers();
  const d = createCommandDispatcher(handlers, { secret: null });
  assert.deepEqual(await d.dispatch({ name: 'set', payload: '{"request_id":"r2","camera":"ghost","sensitivity":0.4}' }), {
    ok: false,
    command: 'set',
    request_id: 'r2',
    error: 'no camera "ghost"',
  });
  assert.deepEqual(await d.dispatch({ name: 'status', payload: '{"request_id":"r3"}' }), {
    ok: false,
    command: 'status',
    request_id: 'r3',
    error: 'status failed: status exploded',
  });
});

test('canonical JSON sorts keys at every depth and drops whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 0, y: 'é' }], c: null } }), '{"a":{"c":null,"d":[3,{"y":"é","z":0}]},"b":1}');
});

test('with a secret: a correct HMAC over the canonical body passes once; wrong, stale, missing or replayed ones fail', async () => {
  const { calls, handlers } = recordingHandlers();
  let now = T0;
  const d = createCommandDispatcher(handlers, { secret: SECRET, now: () => now });
  // Computed by hand from the documented scheme, not with the module's signer.
  const canonical = `{"camera":"cam1","request_id":"r9","ts":${T0 - 1000}}`;
  const sig = createHmac('sha256', SECRET).update(`linewatch-cmd-v1\nretune\n${canonical}`).digest('hex');
  const signed = JSON.stringify({ ts: T0 - 1000, request_id: 'r9', camera: 'cam1', sig });

  // The command name is signed: the same body sent to another command does not verify.
  assert.deepEqual(await d.dispatch({ name: 'rollback', payload: signed }), { ok: false, command: 'rollback', request_id: 'r9', error: 'bad signature' });
  assert.deepEqual(await d.dispatch({ name: 'retune', payload: signed }), { ok: true, command: 'retune', request_id: 'r9', result: { job: 'started' } });
  assert.deepEqual(calls, [['retune', { camera: 'cam1' }]]);

  const refusals: Array<[string, string, RegExp]> = [
    ['retune', signed, /already used \(replay\)/],
    ['retune', signed.replace('"r9"', '"r10"'), /bad signature/],
    ['retune', JSON.stringify({ ts: T0, camera: 'cam1' }), /requires signed commands/],
    ['retune', JSON.stringify({ ts: T0, camera: 'cam1', sig: 'ab'.repeat(32) }), /bad signature/],
    ['retune', JSON.stringify({ ts: T0, camera: 'cam1', sig: 'XYZ' }), /64 lowercase hex digits/],
  ];
  for (const [name, payload, expected] of refusals) {
    const reply = await d.dispatch({ name, payload });
    assert.equal(reply.ok, false);
    assert.match((reply as { error: string }).error, expected);
  }
  now = T0 + 6 * 60 * 1000;
  const late = await d.dispatch({ name: 'status', payload: JSON.stringify(signCommand(SECRET, 'status', {}, T0)) });
  assert.match((late as { error: string }).error, /more than 5 minutes away/);
  assert.equal(calls.length, 1);

  // The HTTP page over loopback is trusted: no signature needed.
  assert.equal((await d.dispatch({ name: 'reload', payload: '{}', trusted: true })).ok, true);
  // The signer the CLI uses produces what the dispatcher accepts.
  assert.equal((await d.dispatch({ name: 'reload', payload: JSON.stringify(signCommand(SECRET, 'reload', {}, now)) })).ok, true);
});

// ---- attacker input: inherited names, deep nesting, fields a command ignores -------------------

/** Every name an ordinary object inherits: each one, as a key, is just an unknown field. */
const INHERITED = Object.getOwnPropertyNames(Object.prototype);

const errorOf = (reply: CommandReply) => (reply.ok ? '(no error: the command passed)' : reply.error);

test('inherited property names as keys are unknown fields, at the top level and nested, for every command', async () => {
  const { calls, handlers } = recordingHandlers();
  const d = createCommandDispatcher(handlers, { secret: null });
  assert.ok(INHERITED.includes('__proto__') && INHERITED.includes('hasOwnProperty') && INHERITED.includes('isPrototypeOf'));
  for (const name of ['retune', 'rollback', 'reload', 'set', 'snapshot', 'status']) {
    for (const key of INHERITED) {
      const reply = await d.dispatch({ name, payload: `{"request_id":"i1",${JSON.stringify(key)}:1}` });
      assert.equal(reply.ok, false, `${name} ${key}`);
      assert.equal(reply.request_id, 'i1');
      assert.match(errorOf(reply), new RegExp(`unknown field "${key.replace(/[$]/g, '\\$')}" for ${name}`), `${name} ${key}`);
    }
  }
  // nested: an object where a camera name or a number belongs is the wrong type, whatever its keys
  for (const key of INHERITED) {
    const camera = await d.dispatch({ name: 'snapshot', payload: `{"camera":{${JSON.stringify(key)}:"cam1"}}` });
    assert.match(errorOf(camera), /"camera" must be a camera name/, key);
    const threshold = await d.dispatch({ name: 'set', payload: `{"threshold":{${JSON.stringify(key)}:0.1}}` });
    assert.match(errorOf(threshold), /"threshold" must be a number from 0 to 1/, key);
  }
  assert.deepEqual(calls, []);
});

test('{"isPrototypeOf":1} does not pass strict validation of a command that takes no arguments', async () => {
  const { calls, handlers } = recordingHandlers();
  const d = createCommandDispatcher(handlers, { secret: null });
  for (const name of ['reload', 'status', 'rollback']) {
    const reply = await d.dispatch({ name, payload: '{"isPrototypeOf":1}' });
    assert.equal(reply.ok, false, name);
    assert.match(errorOf(reply), new RegExp(`unknown field "isPrototypeOf" for ${name}`));
  }
  assert.deepEqual(calls, []);
});

const nested = (depth: number, leaf = '1') => `${'{"a":'.repeat(depth - 1)}{"b":${leaf}}${'}'.repeat(depth - 1)}`;

test('payloads nested deeper than 16 levels are refused before anything else, with or without a secret', async () => {
  const { calls, handlers } = recordingHandlers();
  for (const secret of [null, SECRET]) {
    const d = createCommandDispatcher(handlers, { secret, now: () => T0 });
    // (within the size limit: 30,000 brackets deep, or 10,000 objects deep)
    for (const payload of ['['.repeat(30_000), '['.repeat(30_000) + ']'.repeat(30_000), nested(10_000)]) {
      const reply = await d.dispatch({ name: 'status', payload });
      assert.equal(reply.ok, false);
      assert.match(errorOf(reply), /nests deeper than 16 levels/);
    }
    // signed-looking: fresh ts, all-zero sig, a 30,000-deep field; brackets inside strings do not count
    const deep = `{"ts":${T0},"sig":"${'0'.repeat(64)}","x":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    assert.match(errorOf(await d.dispatch({ name: 'set', payload: deep })), /nests deeper than 16 levels/);
    const inString = await d.dispatch({ name: 'status', payload: JSON.stringify({ request_id: '[{'.repeat(100) }) });
    assert.match(errorOf(inString), /"request_id" must be a string of 1 to 128 characters|signed commands/);
    // 16 levels is within the limit: the field is refused for what it is, not for its depth
    assert.match(errorOf(await d.dispatch({ name: 'status', payload: nested(16) })), secret ? /signed commands/ : /unknown field "a" for status/);
    assert.match(errorOf(await d.dispatch({ name: 'status', payload: nested(17) })), /nests deeper than 16 levels/);
  }
  assert.deepEqual(calls, []);
});

test('canonical JSON of a deeply nested value is computed without recursion', () => {
  const depth = 100_000;
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = i % 2 ? { k: value } : [value];
  const expected = `${'{"k":['.repeat(depth / 2)}0${']}'.repeat(depth / 2)}`;
  const got = canonicalJson(value);
  assert.ok(got === expected, `${got.length} characters, starting ${got.slice(0, 40)}`);
});

test('rollback takes no camera: prompt sets belong to the agent', async () => {
  const { calls, handlers } = recordingHandlers();
  const d = createCommandDispatcher(handlers, { secret: null });
  const reply = await d.dispatch({ name: 'rollback', payload: '{"camera":"cam1"}' });
  assert.equal(reply.ok, false);
  assert.match(errorOf(reply), /unknown field "camera" for rollback .*rollback applies to the agent's prompt set/);
  assert.deepEqual(calls, []);
  assert.equal((await d.dispatch({ name: 'rollback', payload: '{}' })).ok, true);
  assert.deepEqual(calls, [['rollback', {}]]);
});

const mosquitto = findExecutable('mosquitto');

describe('MQTT command channel', { skip: mosquitto ? false : 'mosquitto is not installed' }, () => {
  test('a dispatcher that throws, or a reply that cannot be written, is logged; the channel keeps answering', { timeout: 60_000 }, async (t) => {
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const topics = createTopics('lw', 'chan');
    assert.ok(topics.ok);
    // Test double for the dispatcher: fails in the two ways the channel itself must survive.
    const dispatcher: CommandDispatcher = {
      dispatch: async (req) => {
        if (req.name === 'boom') throw new Error('dispatcher exploded');
        if (req.name === 'unwritable') return { ok: true, command: req.name, result: 10n };
        return { ok: true, command: req.name, result: 'answered' };
      },
    };
    const connection = connectMqtt({
      url: broker.url,
      clientId: 'chan-agent',
      username: null,
      password: null,
      tls: {},
      protocolVersion: 5,
      availability: { topic: 'lw/chan/status', online: 'online', offline: 'offline', stopped: 'stopped' },
    });
    t.after(() => connection.stop(1000));
    attachCommandChannel(connection, topics.value, dispatcher);
    const watch = await observer(broker.url, { protocolVersion: 5, clientId: 'chan-plant' }, ['lw/chan/#']);
    await watch.next((m) => m.topic === 'lw/chan/status' && m.payload.toString() === 'online');
    await watch.client.publishAsync('lw/chan/cmd/boom', '{}', { qos: 1 });
    await watch.client.publishAsync('lw/chan/cmd/unwritable', '{}', { qos: 1 });
    await watch.client.publishAsync('lw/chan/cmd/status', '{}', { qos: 1 });
    const reply = await watch.next((m) => m.topic === 'lw/chan/cmd/status/reply');
    assert.deepEqual(JSON.parse(reply.payload.toString()), { ok: true, command: 'status', result: 'answered' });
    assert.deepEqual(
      watch.got.filter((m) => /cmd\/(boom|unwritable)\/reply$/.test(m.topic)),
      [],
      'nothing to publish for them, and nothing ended the process',
    );
  });
});

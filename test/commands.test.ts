import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { createCommandDispatcher } from '../agent/commands/dispatcher.ts';
import { canonicalJson, signCommand } from '../agent/commands/signature.ts';
import type { CommandHandlers } from '../agent/commands/types.ts';
import { err, ok } from '../util/result.ts';

/** Test double for the agent: records every call, answers with fixed values. */
function recordingHandlers() {
  const calls: Array<[string, unknown]> = [];
  const handlers: CommandHandlers = {
    retune: async (a) => (calls.push(['retune', a]), ok({ job: 'started' })),
    rollback: async (a) => (calls.push(['rollback', a]), ok({ prompt_set: 'ps-0001' })),
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
    ['set', '{"threshold":"0.5"}', /"threshold" must be a number from 0 to 1/],
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

// After losing an established connection, the connection asks `checkClaim` who holds its client id
// before it reconnects: reconnecting first would knock the new holder off (two agents with one
// device_id taking the id from each other in a loop), and a check answered while we are connected
// again could hear our own agent. A real mosquitto; the claim check is the test's own promise, so
// the test decides when it answers and what.
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import mqtt from 'mqtt';
import { connectMqtt, type MqttConnection } from '../../../agent/mqtt/connection.ts';
import { err, ok, type Result } from '../../../util/result.ts';
import { findExecutable, sleep, startMosquitto } from '../../support/mqtt-harness.ts';

const mosquitto = findExecutable('mosquitto');
const CLIENT_ID = 'claim-agent';
/** mqtt.js's own reconnect, short so that a reconnect the hold failed to stop shows within the test. */
const RECONNECT_MS = 100;

interface HeldConnection {
  connection: MqttConnection;
  /** Connection changes in order: true on every connect, false on every loss. */
  changes: boolean[];
  /** Resolves when the claim check is asked; its answer is what the test passes to `answer`. */
  asked: Promise<void>;
  answer(claim: Result<void>): void;
  gaveUp: string[];
}

function heldConnection(url: string, claimCheckLimitMs?: number): HeldConnection {
  const changes: boolean[] = [];
  const gaveUp: string[] = [];
  let markAsked = () => {};
  const asked = new Promise<void>((resolve) => (markAsked = resolve));
  let answer: (claim: Result<void>) => void = () => {};
  const connection = connectMqtt({
    url,
    clientId: CLIENT_ID,
    username: null,
    password: null,
    tls: {},
    protocolVersion: 5,
    reconnectPeriodMs: RECONNECT_MS,
    availability: { topic: 'lw/claim/status', online: 'online', offline: 'offline', stopped: 'stopped' },
    checkClaim: () => {
      markAsked();
      return new Promise((resolve) => (answer = resolve));
    },
    onGiveUp: (reason) => gaveUp.push(reason),
    claimCheckLimitMs,
  });
  connection.onConnectionChange((c) => changes.push(c));
  return { connection, changes, asked, answer: (claim) => answer(claim), gaveUp };
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A mosquitto of the test's own and a held connection to it, connected; both stop after the test. */
async function connectedOnOwnBroker(t: TestContext, claimCheckLimitMs?: number) {
  const broker = await startMosquitto(mosquitto!);
  t.after(() => broker.stop());
  const held = heldConnection(broker.url, claimCheckLimitMs);
  t.after(() => held.connection.stop(1000));
  await until(() => held.connection.connected, 'the first connect');
  return { broker, held };
}

/** Another client takes the id over (the broker closes ours for it) and, unless kept, leaves again. */
async function takeOver(url: string, keep: boolean): Promise<mqtt.MqttClient> {
  const other = await mqtt.connectAsync(url, { clientId: CLIENT_ID, reconnectPeriod: 0 });
  if (!keep) await other.endAsync();
  return other;
}

describe('the claim check after a lost connection', { skip: mosquitto ? false : 'mosquitto is not installed' }, () => {
  test('holds the reconnect until the check answers that the id is free, then reconnects', async (t) => {
    const { broker, held } = await connectedOnOwnBroker(t);

    await takeOver(broker.url, false);
    await held.asked;
    // Twenty of mqtt.js's reconnect periods with the id free: without the hold it would be back.
    await sleep(20 * RECONNECT_MS);
    assert.deepEqual(held.changes, [true, false], 'no reconnect while the claim check runs');

    held.answer(ok(undefined));
    await until(() => held.connection.connected, 'the reconnect after the check');
    assert.deepEqual(held.changes, [true, false, true]);
    assert.deepEqual(held.gaveUp, []);
  });

  test('gives the id up without reconnecting when the check finds another holder', async (t) => {
    const { broker, held } = await connectedOnOwnBroker(t);

    const other = await takeOver(broker.url, true);
    t.after(() => other.end(true));
    let otherLost = 0;
    other.on('close', () => otherLost++);
    await held.asked;
    held.answer(err('another agent holds it'));
    await until(() => held.gaveUp.length > 0, 'the give-up');
    await sleep(20 * RECONNECT_MS);
    assert.deepEqual(held.gaveUp, ['another agent holds it']);
    assert.deepEqual(held.changes, [true, false]);
    assert.equal(otherLost, 0, 'the new holder keeps the id');
  });

  test('a check that never answers holds the reconnect only for its limit', async (t) => {
    const { broker, held } = await connectedOnOwnBroker(t, 1000);

    await takeOver(broker.url, false);
    await held.asked;
    await sleep(500);
    assert.deepEqual(held.changes, [true, false], 'still held within the limit');
    await until(() => held.connection.connected, 'the reconnect after the limit');
    assert.deepEqual(held.gaveUp, []);
  });
});

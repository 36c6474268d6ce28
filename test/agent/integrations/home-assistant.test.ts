// Home Assistant MQTT discovery against the running agent (child process, real mosquitto, `dir:`
// cameras, the tiny fixture bundle): every config's topics and templates must point at topics and
// fields the agent really publishes (templates rendered against the real payloads), the button press
// must reach the command dispatcher as a re-tune, and a second run without one of the cameras (and
// with a command secret) must remove that camera's configs and the button, leaving the rest.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { ResultPayload, RetuneStatePayload } from '../../../agent/contract/payloads.ts';
import { createTopics } from '../../../agent/contract/topics.ts';
import { discoveryConfigs } from '../../../agent/integrations/home-assistant.ts';
import { DEMO_FRAMES, startAgentProcess } from '../../support/agent-process.ts';
import { findExecutable, observer, type Received, sleep, startMosquitto, tempDir } from '../../support/mqtt-harness.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';

const HANG_GUARD = { timeout: 300_000 }; // not a speed assertion: a hung agent must not hang CI
const SECRET = 'ha-test-secret-0123456789';
const mosquitto = findExecutable('mosquitto');

type Config = Record<string, unknown> & {
  unique_id: string;
  availability: { topic: string; value_template: string; payload_available: string; payload_not_available: string }[];
};

const json = <T>(m: Received) => JSON.parse(m.payload.toString()) as T;

/** A key path of a JSON value as HA's template engine would look it up; fails the test when a field is missing. */
function lookup(value: unknown, fieldPath: string, template: string): unknown {
  let v = value;
  for (const key of fieldPath.split('.')) {
    assert.ok(v !== null && typeof v === 'object' && Object.hasOwn(v, key), `${template}: the payload has no field ${fieldPath}: ${JSON.stringify(value)}`);
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** What Jinja prints for a JSON value (HA renders with Python: True / False). */
const printed = (v: unknown) => (v === true ? 'True' : v === false ? 'False' : String(v));

/**
 * A model of HA's template rendering for exactly the two forms the configs use; any other template
 * fails the test (so a config cannot drift into something this check does not understand).
 */
function render(template: string, payload: Buffer): string {
  const field = /^\{\{ value_json\.([\w.]+) \}\}$/.exec(template);
  if (field) return printed(lookup(JSON.parse(payload.toString()), field[1], template));
  const choice = /^\{\{ '(\w+)' if (value|value_json\.([\w.]+)) == '(\w+)' else '(\w+)' \}\}$/.exec(template);
  assert.ok(choice, `a template the test cannot render: ${template}`);
  const [, then, , fieldPath, equals, otherwise] = choice;
  const value = fieldPath ? lookup(JSON.parse(payload.toString()), fieldPath, template) : payload.toString();
  return value === equals ? then : otherwise;
}

/** The retained messages under `filter` right now: a fresh subscriber gets them at once. */
async function retained(url: string, filter: string): Promise<Map<string, Buffer>> {
  const fresh = await observer(url, { protocolVersion: 5, clientId: `ha-retained-${Math.random()}` }, [filter]);
  await sleep(1000);
  fresh.client.end(true);
  return new Map(fresh.got.filter((m) => m.packet.retain).map((m) => [m.topic, m.payload]));
}

describe('Home Assistant discovery', { skip: !mosquitto ? 'mosquitto is not installed' : false }, () => {
  test('configs point at what the agent publishes; the button re-tunes; removed cameras lose their configs', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const bundle = await buildTinyBundle(path.join(dir, 'bundle'));
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const config = path.join(dir, 'agent.yaml');
    const writeConfig = (cameras: string[], secret: boolean, enabled = true) =>
      fs.writeFile(
        config,
        `device_id: cell7
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", topic_prefix: lw, protocol_version: 5${secret ? `, command_secret: ${SECRET}` : ''} }
cameras:
${cameras.map((c) => `  ${c}: { source: "${DEMO_FRAMES}", fps: 4 }`).join('\n')}
detector: { publish_masks: always, result_rate_hz: 100 }
retune: { cron: null, min_normals: 2, max_normals: 4, steps: 5, min_interval_s: 0, sample_interval_s: 0 }
http: { enabled: false }
integrations: { home_assistant: { enabled: ${enabled}, discovery_prefix: ha } }
`,
      );
    const watch = await observer(broker.url, { protocolVersion: 5, clientId: 'ha-watch' }, ['ha/#', 'lw/cell7/#']);

    // run 1: two cameras, no secret -> 4 entities each
    await writeConfig(['line', 'spare'], false);
    const first = startAgentProcess(config);
    t.after(() => first.child.kill('SIGKILL'));
    const configTopic = /^ha\/(binary_sensor|sensor|image|button)\/linewatch_cell7\/(line|spare)_(anomalous|score|mask|retune)\/config$/;
    const configs = new Map<string, Config>();
    while (configs.size < 8) {
      const m = await watch.next((x) => configTopic.test(x.topic) && x.payload.length > 0 && !configs.has(x.topic));
      configs.set(m.topic, json<Config>(m));
    }
    // the agent's real messages on every topic the configs name
    for (const cam of ['line', 'spare']) {
      await watch.next((m) => m.topic === `lw/cell7/${cam}/status` && json<{ state: string }>(m).state === 'online');
      await watch.next((m) => m.topic === `lw/cell7/${cam}/result`);
      await watch.next((m) => m.topic === `lw/cell7/${cam}/mask`);
    }
    const lastOn = (topic: string) => [...watch.got].reverse().find((m) => m.topic === topic);
    assert.equal(lastOn('lw/cell7/status')?.payload.toString(), 'online');

    const uniqueIds = new Set<string>();
    for (const [topic, c] of configs) {
      const [, component, cam] = configTopic.exec(topic)!;
      uniqueIds.add(c.unique_id);
      assert.deepEqual((c.device as { identifiers: string[] }).identifiers, [`linewatch_cell7_${cam}`], topic);
      assert.equal(c.availability_mode, 'all');
      for (const a of c.availability) {
        const real = lastOn(a.topic);
        assert.ok(real, `${topic}: nothing was published on its availability topic ${a.topic}`);
        assert.equal(render(a.value_template, real.payload), a.payload_available, `${topic}: availability from ${a.topic}`);
      }
      assert.deepEqual(
        c.availability.map((a) => a.topic),
        ['lw/cell7/status', `lw/cell7/${cam}/status`],
      );
      if (component === 'binary_sensor' || component === 'sensor') {
        assert.equal(c.state_topic, `lw/cell7/${cam}/result`);
        const real = lastOn(c.state_topic as string)!;
        const result = json<ResultPayload>(real);
        const state = render(c.value_template as string, real.payload);
        if (component === 'binary_sensor') assert.equal(state, result.anomalous ? c.payload_on : c.payload_off, `${topic}: ${state}`);
        else assert.equal(Number(state), result.score);
      }
      if (component === 'image') {
        assert.equal(c.image_topic, `lw/cell7/${cam}/mask`);
        assert.equal(c.content_type, 'image/png');
        assert.deepEqual([...lastOn(c.image_topic as string)!.payload.subarray(1, 4)], [...Buffer.from('PNG')]);
      }
      if (component === 'button') assert.equal(c.command_topic, 'lw/cell7/cmd/retune');
    }
    assert.equal(uniqueIds.size, 8, 'unique ids are unique');

    // the button, pressed as HA does: its payload on its command topic -> a re-tune of that camera
    const button = configs.get('ha/button/linewatch_cell7/line_retune/config')!;
    const from = watch.got.length;
    await watch.client.publishAsync(button.command_topic as string, button.payload_press as string, { qos: button.qos as 0 | 1, retain: false });
    const reply = json<{ ok: boolean; command: string; error?: string; result?: { job_id: string } }>(
      await watch.next((m) => m.topic === 'lw/cell7/cmd/retune/reply', from),
    );
    assert.equal(reply.ok, true, reply.error);
    const job = json<RetuneStatePayload>(
      await watch.next((m) => m.topic === 'lw/cell7/retune/state' && json<RetuneStatePayload>(m).job_id === reply.result!.job_id, from),
    );
    assert.equal(job.camera, 'line');
    assert.equal(job.trigger, 'command');

    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);

    // run 2: `spare` removed, a command secret set -> its configs and the button are removed
    await writeConfig(['line'], true);
    const removedFrom = watch.got.length;
    const second = startAgentProcess(config);
    t.after(() => second.child.kill('SIGKILL'));
    const gone = [
      'ha/binary_sensor/linewatch_cell7/spare_anomalous/config',
      'ha/sensor/linewatch_cell7/spare_score/config',
      'ha/image/linewatch_cell7/spare_mask/config',
      'ha/button/linewatch_cell7/spare_retune/config',
      'ha/button/linewatch_cell7/line_retune/config',
    ];
    // removals go out before the configs that stay: once those are back, every removal is in
    await watch.next((m) => m.topic === 'ha/sensor/linewatch_cell7/line_score/config' && m.payload.length > 0, removedFrom);
    const emptied = watch.got
      .slice(removedFrom)
      .filter((m) => m.topic.startsWith('ha/') && m.payload.length === 0)
      .map((m) => m.topic);
    assert.deepEqual(emptied.sort(), gone.sort());
    const left = await retained(broker.url, 'ha/#');
    assert.deepEqual([...left.keys()].sort(), [
      'ha/binary_sensor/linewatch_cell7/line_anomalous/config',
      'ha/image/linewatch_cell7/line_mask/config',
      'ha/sensor/linewatch_cell7/line_score/config',
    ]);
    assert.ok(
      second.log.some((l) => /command_secret is set: no re-tune button/.test(l)),
      'the log says why there is no button',
    );
    // HA restarted (its birth message): the configs are sent again, as zigbee2mqtt does
    const announced = watch.got.length;
    await watch.client.publishAsync('ha/status', 'online', { qos: 1 });
    await watch.next((m) => m.topic === 'ha/binary_sensor/linewatch_cell7/line_anomalous/config' && m.payload.length > 0, announced);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);

    // run 3: the integration disabled -> what is left is removed, the list of published configs too
    await writeConfig(['line'], true, false);
    const disabledFrom = watch.got.length;
    const third = startAgentProcess(config);
    t.after(() => third.child.kill('SIGKILL'));
    for (const topic of left.keys()) await watch.next((m) => m.topic === topic && m.payload.length === 0, disabledFrom);
    assert.deepEqual([...(await retained(broker.url, 'ha/#')).keys()], []);
    await assert.rejects(fs.access(path.join(dir, 'var/integrations/home-assistant.json')));
    third.child.kill('SIGTERM');
    assert.equal(await third.exited, 0);
  });

  test('configs of one camera: topics from the contract, templates of the two forms, ids HA accepts', () => {
    const topics = createTopics('plant/hall2', 'cell.7');
    assert.ok(topics.ok);
    const configs = discoveryConfigs({
      topics: topics.value,
      deviceId: 'cell.7',
      discoveryPrefix: 'homeassistant',
      cameras: ['front'],
      masks: false,
      signedCommands: false,
    });
    // no mask published -> no image entity; the node id keeps HA's characters only
    assert.deepEqual([...configs.keys()].sort(), [
      'homeassistant/binary_sensor/linewatch_cell_7/front_anomalous/config',
      'homeassistant/button/linewatch_cell_7/front_retune/config',
      'homeassistant/sensor/linewatch_cell_7/front_score/config',
    ]);
    const button = configs.get('homeassistant/button/linewatch_cell_7/front_retune/config')!;
    assert.equal(button.command_topic, 'plant/hall2/cell.7/cmd/retune');
    assert.deepEqual(JSON.parse(button.payload_press as string), { camera: 'front' });
  });
});

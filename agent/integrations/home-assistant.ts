// Home Assistant MQTT discovery: per camera one HA device with four entities (anomalous, score,
// mask, re-tune), announced by retained configs on HA's discovery topics
// `<discovery_prefix>/<component>/<node_id>/<object_id>/config`, on the agent's own connection.
// The configs point at topics the contract already publishes (P/<cam>/result, P/<cam>/mask, P/status,
// P/<cam>/status) and at the command topic P/cmd/retune, so HA reads and commands the agent as any
// MQTT client does and nothing is published twice.
//
// The config topics of a run are kept in data_dir: at the next start, those no longer wanted (a
// camera removed from the configuration, the button, the integration disabled) get an empty retained
// message, which is how HA deletes a discovered entity, as zigbee2mqtt does for removed devices.
// Configs are sent again on every connect and when HA announces itself (`<prefix>/status` online).
//
// The button's payload is fixed, so it cannot carry the fresh HMAC that mqtt.command_secret requires:
// with a secret set the button is not offered (and the log says why) rather than offering a button
// that is refused, or opening an unsigned way around the secret.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../util/log.ts';
import type { Topics } from '../contract/topics.ts';
import type { MqttConnection } from '../mqtt/connection.ts';
import type { Integration } from './integration.ts';

const log = createLogger('home-assistant');

export interface DiscoverySettings {
  topics: Topics;
  deviceId: string;
  discoveryPrefix: string;
  cameras: readonly string[];
  /** `detector.publish_masks` is not `never`: there is a mask to show. */
  masks: boolean;
  /** `mqtt.command_secret` is set: commands must be signed. */
  signedCommands: boolean;
}

export type DiscoveryConfig = Record<string, unknown>;

/** HA's node_id and object_id take letters, digits, `_` and `-` only. */
const idWord = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');

/** JSON booleans rendered by HA's template engine (Python) read `True` / `False`. */
const ON = 'True';
const OFF = 'False';

/** Every config to publish, by discovery topic. Pure: the test renders these against real payloads. */
export function discoveryConfigs(s: DiscoverySettings): Map<string, DiscoveryConfig> {
  const node = `linewatch_${idWord(s.deviceId)}`;
  const configs = new Map<string, DiscoveryConfig>();
  for (const camera of s.cameras) {
    const base = (object: string) => ({
      unique_id: `${node}_${camera}_${object}`,
      device: { identifiers: [`${node}_${camera}`], name: `${s.deviceId} ${camera}`, manufacturer: 'linewatch', model: 'CLIP anomaly detector' },
      origin: { name: 'linewatch' },
      // Both must say online: the agent (`stopped` and the Will `offline` are not) and the camera.
      availability: [
        {
          topic: s.topics.status,
          value_template: "{{ 'online' if value == 'online' else 'offline' }}",
          payload_available: 'online',
          payload_not_available: 'offline',
        },
        {
          topic: s.topics.cameraStatus(camera),
          value_template: "{{ 'online' if value_json.state == 'online' else 'offline' }}",
          payload_available: 'online',
          payload_not_available: 'offline',
        },
      ],
      availability_mode: 'all',
    });
    const add = (component: string, object: string, fields: DiscoveryConfig) =>
      configs.set(`${s.discoveryPrefix}/${component}/${node}/${camera}_${object}/config`, { ...base(object), ...fields });

    add('binary_sensor', 'anomalous', {
      name: 'Anomalous',
      device_class: 'problem',
      state_topic: s.topics.result(camera),
      value_template: '{{ value_json.anomalous }}',
      payload_on: ON,
      payload_off: OFF,
    });
    add('sensor', 'score', {
      name: 'Anomaly score',
      state_topic: s.topics.result(camera),
      value_template: '{{ value_json.score }}',
      state_class: 'measurement',
      suggested_display_precision: 3,
    });
    if (s.masks) add('image', 'mask', { name: 'Anomaly mask', image_topic: s.topics.mask(camera), content_type: 'image/png' });
    if (!s.signedCommands) {
      add('button', 'retune', {
        name: 'Re-tune',
        icon: 'mdi:tune',
        command_topic: s.topics.command('retune'),
        payload_press: JSON.stringify({ camera }),
        qos: 1,
        retain: false,
      });
    }
  }
  return configs;
}

/** The discovery topics published by the last run, from `file`; none when it is missing or unreadable. */
async function readPublished(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const data = JSON.parse(text) as { config_topics?: unknown };
    if (Array.isArray(data.config_topics) && data.config_topics.every((t) => typeof t === 'string')) return data.config_topics;
  } catch {
    // reported below
  }
  log.warn('ignoring an unreadable list of published discovery configs; configs of removed cameras may stay in Home Assistant', { file });
  return [];
}

async function writePublished(file: string, topics: Iterable<string>): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify({ config_topics: [...topics] }, null, 2)}\n`);
  await fs.rename(tmp, file);
}

export interface HomeAssistantOptions extends DiscoverySettings {
  connection: MqttConnection;
  enabled: boolean;
  /** Where the discovery topics of this run are listed for the next. */
  stateFile: string;
}

/**
 * Publishes the configs (enabled) or removes those of an earlier run (disabled) on every connect.
 * Null when disabled with nothing left to remove.
 */
export async function startHomeAssistant(o: HomeAssistantOptions): Promise<Integration | null> {
  const previous = await readPublished(o.stateFile);
  if (!o.enabled && previous.length === 0) return null;
  const wanted = o.enabled ? discoveryConfigs(o) : new Map<string, DiscoveryConfig>();
  if (o.enabled && o.signedCommands) {
    log.warn(
      'mqtt.command_secret is set: no re-tune button in Home Assistant (a fixed button payload cannot be signed); use the live page or `linewatch retune`',
    );
  }
  let stale = previous.filter((t) => !wanted.has(t));

  let syncing: Promise<void> = Promise.resolve();
  const sync = async () => {
    // Listed first, with what is about to be removed: a crash half-way leaves nothing unrecorded.
    await writePublished(o.stateFile, new Set([...stale, ...wanted.keys()]));
    for (const topic of stale) await o.connection.publish(topic, '', { qos: 1, retain: true });
    for (const [topic, config] of wanted) await o.connection.publish(topic, JSON.stringify(config), { qos: 1, retain: true });
    if (stale.length) log.info('removed Home Assistant discovery configs', { count: stale.length });
    stale = [];
    if (wanted.size) await writePublished(o.stateFile, wanted.keys());
    else await fs.rm(o.stateFile, { force: true });
  };
  const resync = () => {
    syncing = syncing.then(sync).catch((e: Error) => log.warn('could not publish the Home Assistant discovery configs', { error: e.message }));
  };

  const haStatus = `${o.discoveryPrefix}/status`;
  if (o.enabled) {
    o.connection.subscribe(haStatus);
    o.connection.onMessage((topic, payload) => {
      if (topic === haStatus && payload.toString() === 'online') resync();
    });
  }
  const unfollow = o.connection.onConnectionChange((up) => up && resync());
  if (o.connection.connected) resync();
  return {
    name: 'home-assistant',
    async stop() {
      unfollow();
      await syncing;
    },
  };
}

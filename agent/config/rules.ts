// The checks between keys that JSON Schema cannot express, as named rules run once every key is
// valid on its own (so each rule may trust the types).
import type { AgentConfig } from '../config.ts';
import { envWord } from './env.ts';
import type { Problem } from './phrase.ts';

type Rule = (c: AgentConfig) => Problem[];

const maxNormalsCoverMin: Rule = (c) =>
  c.retune.max_normals < c.retune.min_normals ? [{ path: ['retune', 'max_normals'], reason: `must be >= retune.min_normals (${c.retune.min_normals})` }] : [];

const tlsFilesNeedTlsUrl: Rule = (c) => {
  const tls = c.mqtt.url.startsWith('mqtts:') || c.mqtt.url.startsWith('wss:');
  return tls
    ? []
    : (['ca', 'cert', 'key'] as const)
        .filter((k) => c.mqtt[k] !== null)
        .map((k) => ({ path: ['mqtt', k], reason: 'TLS files need an mqtts:// or wss:// url' }));
};

const certWithKey: Rule = (c) =>
  (c.mqtt.cert === null) !== (c.mqtt.key === null)
    ? [{ path: ['mqtt', c.mqtt.cert === null ? 'cert' : 'key'], reason: 'mqtt.cert and mqtt.key go together' }]
    : [];

const watchdogSpansTwoFrames: Rule = (c) =>
  Object.entries(c.cameras)
    .filter(([, cam]) => cam.watchdog_s * cam.fps < 2)
    .map(([name, cam]) => ({
      path: ['cameras', name, 'watchdog_s'],
      reason: `must span at least two frame intervals (>= ${2 / cam.fps} s at ${cam.fps} fps)`,
    }));

const cameraEnvNamesDistinct: Rule = (c) => {
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const name of Object.keys(c.cameras)) {
    const word = envWord(name);
    const other = seen.get(word);
    if (other !== undefined) {
      problems.push({ path: ['cameras', name], reason: `clashes with camera '${other}' in environment variable names (LINEWATCH_CAMERAS_${word}_*)` });
    }
    seen.set(word, name);
  }
  return problems;
};

const passwordNeedsUsername: Rule = (c) =>
  c.mqtt.password !== null && c.mqtt.username === null ? [{ path: ['mqtt', 'username'], reason: 'required when mqtt.password is set' }] : [];

const sparkplugNeedsGroup: Rule = (c) =>
  c.integrations.sparkplug.enabled && c.integrations.sparkplug.group_id === null
    ? [{ path: ['integrations', 'sparkplug', 'group_id'], reason: 'required when integrations.sparkplug.enabled is true' }]
    : [];

export const CROSS_KEY_RULES: readonly Rule[] = [
  maxNormalsCoverMin,
  tlsFilesNeedTlsUrl,
  certWithKey,
  watchdogSpansTwoFrames,
  cameraEnvNamesDistinct,
  passwordNeedsUsername,
  sparkplugNeedsGroup,
];

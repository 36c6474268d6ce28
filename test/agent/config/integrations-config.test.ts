// The `integrations:` keys (Home Assistant discovery, Sparkplug B): every bad value named by its
// key path, all at once, with the file line or the environment variable it came from.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../../agent/config.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'linewatch-integrations-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  const file = path.join(tmp, `c${Math.random()}.yaml`);
  writeFileSync(file, `device_id: cell7\n${text}`);
  return loadConfig(file, env);
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  const r = load(text, env);
  assert.equal(r.ok, false, 'expected the configuration to be rejected');
  return r.ok ? [] : r.error.split('\n');
}

describe('integrations configuration', () => {
  test('defaults: both off, discovery prefix homeassistant, edge node id null (= device_id)', () => {
    const r = load('');
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.value.integrations, {
      home_assistant: { enabled: false, discovery_prefix: 'homeassistant' },
      sparkplug: { enabled: false, group_id: null, edge_node_id: null },
    });
  });

  test('unknown keys, wrong types and ids with /, + or # are each named, all at once', () => {
    const lines = problems(`integrations:
  home_assistant: { enabled: "yes", discovery_prefix: "ha/+", colour: red }
  sparkplug: { enabled: 1, group_id: "hall/2", edge_node_id: "" }
  opcua: {}
`);
    const expect = [
      /^integrations\.opcua: unknown key .*line 5/,
      /^integrations\.home_assistant\.colour: unknown key \(known: enabled, discovery_prefix\).*line 3/,
      /^integrations\.home_assistant\.enabled: must be true or false \(got "yes"\).*line 3/,
      /^integrations\.home_assistant\.discovery_prefix: must be topic levels separated by single \/, without \+, # or spaces \(got "ha\/\+"\)/,
      /^integrations\.sparkplug\.enabled: must be true or false \(got 1\)/,
      /^integrations\.sparkplug\.group_id: must be a non-empty string without \/, \+ or # .*\(got "hall\/2"\).*line 4/,
      /^integrations\.sparkplug\.edge_node_id: must be a non-empty string without \/, \+ or # .*\(got ""\)/,
    ];
    for (const e of expect)
      assert.ok(
        lines.some((l) => e.test(l)),
        `${e} in:\n${lines.join('\n')}`,
      );
    assert.equal(lines.length, expect.length, lines.join('\n'));
  });

  test('a group id with + or # is refused; an enabled edge node needs one', () => {
    for (const bad of ['a+b', 'plant#1']) {
      const lines = problems(`integrations: { sparkplug: { enabled: true, group_id: "${bad}" } }\n`);
      assert.match(lines.join('\n'), new RegExp(`^integrations\\.sparkplug\\.group_id: .*\\(got "${bad.replace('+', '\\+')}"\\)`, 'm'));
    }
    assert.deepEqual(problems('integrations: { sparkplug: { enabled: true } }\n'), [
      'integrations.sparkplug.group_id: required when integrations.sparkplug.enabled is true',
    ]);
    assert.ok(load('integrations: { sparkplug: { enabled: false } }\n').ok, 'disabled: no group id needed');
  });

  test('LINEWATCH_INTEGRATIONS_* variables set the keys and are checked like the file', () => {
    const r = load('', {
      LINEWATCH_INTEGRATIONS_HOME_ASSISTANT_ENABLED: 'true',
      LINEWATCH_INTEGRATIONS_SPARKPLUG_ENABLED: 'true',
      LINEWATCH_INTEGRATIONS_SPARKPLUG_GROUP_ID: 'hall2',
    });
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.equal(r.value.integrations.home_assistant.enabled, true);
    assert.equal(r.value.integrations.sparkplug.group_id, 'hall2');
    const lines = problems('', { LINEWATCH_INTEGRATIONS_SPARKPLUG_GROUP_ID: 'a#b' });
    assert.deepEqual(lines, [
      'integrations.sparkplug.group_id: must be a non-empty string without /, + or # (it is one Sparkplug topic level) or null (got "a#b") (from LINEWATCH_INTEGRATIONS_SPARKPLUG_GROUP_ID)',
    ]);
  });
});

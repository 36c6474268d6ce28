// The Grafana dashboard and the Prometheus alert rules of deploy/ against the real thing: promtool
// checks and unit-tests the rules, and every metric name their PromQL reads must be one that a
// running agent (`linewatch run`, tiny fixture bundle, a `dir:` camera) declares on /metrics.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { DEMO_FRAMES, startAgentProcess } from '../support/agent-process.ts';
import { findExecutable, freePort, sleep, tempDir } from '../support/mqtt-harness.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { exportedNames, metricNamesIn } from '../support/promql-names.ts';
import { buildTinyBundle } from '../support/tiny-bundle.ts';

const RULES_DIR = path.join(REPO_ROOT, 'deploy/prometheus');
const DASHBOARD = path.join(REPO_ROOT, 'deploy/grafana/linewatch.json');
const HANG_GUARD = { timeout: 240_000 }; // not a speed assertion: a hung agent must not hang CI

/**
 * Names another branch adds to agent/http/metrics.ts (outbox and reservoir losses by reason), used
 * by the "events dropped" alert and panel before that branch is merged. They must still be absent:
 * once they are exported, this list has done its job and goes.
 */
interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard, with where it is, panels in rows included. */
function dashboardExpressions(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) {
    // label_values(<series selector>, <label>): only the selector is PromQL.
    const selector = v.definition && /^label_values\((.*),\s*\w+\)$/.exec(v.definition)?.[1];
    if (selector) out.push({ where: `variable $${v.name}`, expr: selector });
  }
  return out;
}

function ruleExpressions(): { where: string; expr: string }[] {
  const rules = parse(readFileSync(path.join(RULES_DIR, 'linewatch.rules.yml'), 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: String(r.expr) })));
}

test('the PromQL scan finds the metric names and nothing else', () => {
  assert.deepEqual(
    metricNamesIn(
      'histogram_quantile(0.95, sum by (le, camera) (rate(lat_seconds_bucket{camera=~"$camera", x="a(b"}[$__rate_interval]))) and on (instance) up_total unless ignoring(a) b:rec offset 5m',
    ),
    ['b:rec', 'lat_seconds_bucket', 'up_total'],
  );
  assert.deepEqual(metricNamesIn('max by (instance) (state{s="online"}) == 1 unless sum(rate(frames[5m])) by (camera) > 0.5'), ['frames', 'state']);
  assert.deepEqual(
    exportedNames('# HELP a x\n# TYPE a counter\na 1\n# TYPE h histogram\n# TYPE g gauge\n'),
    new Set(['a', 'h', 'h_bucket', 'h_sum', 'h_count', 'g']),
  );
});

const promtool = findExecutable('promtool');

describe('alert rules', { skip: promtool ? false : 'promtool is not installed (Debian package prometheus)' }, () => {
  test('promtool check rules passes', () => {
    const out = execFileSync(promtool!, ['check', 'rules', 'linewatch.rules.yml'], { cwd: RULES_DIR, encoding: 'utf8' });
    assert.match(out, /SUCCESS: 8 rules found/);
  });

  test('promtool test rules: the alerts fire on their cases and only after their `for`', () => {
    const out = execFileSync(promtool!, ['test', 'rules', 'linewatch.rules.test.yml'], { cwd: RULES_DIR, encoding: 'utf8' });
    assert.match(out, /SUCCESS/);
  });
});

test('every metric the dashboard and the rules read is exported by a running agent', HANG_GUARD, async (t) => {
  const dir = await tempDir();
  const bundle = await buildTinyBundle(path.join(dir, 'bundle'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const config = path.join(dir, 'agent.yaml');
  await fs.writeFile(
    config,
    `device_id: metrics-probe
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundle}, execution_providers: [cpu] }
mqtt: { url: embedded, port: ${mqttPort} }
cameras:
  front: { source: "${DEMO_FRAMES}", fps: 5 }
retune: { cron: null }
http: { port: ${httpPort} }
`,
  );
  const agent = startAgentProcess(config);
  t.after(() => agent.child.kill('SIGKILL'));

  // Wait for a scored frame, so per-camera series exist; labelled metrics are declared regardless.
  let exposition = '';
  while (!/^linewatch_frames_processed_total\{camera="front"\} [1-9]/m.test(exposition)) {
    if (agent.child.exitCode !== null) assert.fail(`the agent exited: ${agent.log.join('\n')}`);
    exposition = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then(
      (r) => r.text(),
      () => '',
    );
    await sleep(300);
  }
  const exported = exportedNames(exposition);

  const used = [...dashboardExpressions(), ...ruleExpressions()];
  assert.ok(used.length >= 25, `found only ${used.length} expressions`);
  const unknown = used.flatMap(({ where, expr }) =>
    metricNamesIn(expr)
      .filter((name) => !exported.has(name))
      .map((name) => `${where}: ${name}`),
  );
  assert.deepEqual(unknown, [], 'metric names the agent does not export');
  // The per-camera state and the re-tune outcomes the alerts need, with their labels.
  assert.match(exposition, /^linewatch_camera_state\{camera="front",state="online"\} 1$/m);
  assert.match(exposition, /^linewatch_retunes_total\{outcome="rejected"\} 0$/m);

  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0);
});

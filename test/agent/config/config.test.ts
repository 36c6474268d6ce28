import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { loadConfig } from '../../../agent/config.ts';
import { compileSchema } from '../../../util/schema.ts';
import { REPO_ROOT } from '../../support/paths.ts';

const root = REPO_ROOT;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'linewatch-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

/** The problems of a failing load, one `path: reason` per line. */
function problems(file: string, env: NodeJS.ProcessEnv = {}): string[] {
  const r = loadConfig(file, env);
  assert.equal(r.ok, false, 'expected the configuration to be rejected');
  return r.ok ? [] : r.error.split('\n');
}

const minimal = (camera: string) => `device_id: t1\ncameras:\n  cam:\n${camera}`;

describe('configuration', () => {
  test('the embedded default validates, with paths resolved against its folder', () => {
    const r = loadConfig(path.join(root, 'config/default.yaml'), {});
    assert.ok(r.ok, r.ok ? '' : r.error);
    const c = r.value;
    assert.equal(c.device_id, 'demo');
    assert.equal(c.data_dir, path.join(root, 'var'));
    assert.deepEqual(c.model.bundle, { kind: 'auto' });
    assert.equal(c.mqtt.url, 'embedded');
    assert.deepEqual(c.cameras.demo.source, { kind: 'dir', path: path.join(root, 'demo/frames') });
    assert.equal(c.cameras.demo.fps, 2);
    assert.equal(c.cameras.demo.watchdog_s, 10); // default
    assert.deepEqual(c.http, { enabled: true, host: '127.0.0.1', port: 8080, allowed_hosts: [] });
  });

  test('the annotated line example validates once its TLS files exist (given through the environment)', () => {
    const tls = Object.fromEntries(['ca', 'cert', 'key'].map((k) => [k, path.join(tmp, `${k}.pem`)]));
    for (const f of Object.values(tls)) writeFileSync(f, 'pem');
    const r = loadConfig(path.join(root, 'config/example-line.yaml'), {
      LINEWATCH_MQTT_CA: tls.ca,
      LINEWATCH_MQTT_CERT: tls.cert,
      LINEWATCH_MQTT_KEY: tls.key,
      LINEWATCH_CAMERAS_SOLDER_FRONT_FPS: '8',
    });
    assert.ok(r.ok, r.ok ? '' : r.error);
    const cam = r.value.cameras['solder-front'];
    assert.equal(cam.fps, 8);
    assert.deepEqual(cam.roi, [320, 180, 1280, 720]);
    assert.equal(cam.ignore.length, 2);
    assert.deepEqual(cam.source, { kind: 'rtsp', url: 'rtsp://viewer:secret@10.0.20.11:554/stream1' });
    assert.deepEqual(r.value.cameras['label-check'].source, { kind: 'v4l2', device: '/dev/video0' });
    assert.equal(r.value.mqtt.ca, tls.ca);
    assert.equal(r.value.mqtt.topic_prefix, 'plant/linewatch');
  });

  test('an unknown key is named by its path, with a close-match hint', () => {
    const file = writeConfig('unknown.yaml', `device_id: t1\nmqtt:\n  urll: embedded\ncameras: {}\n`);
    assert.deepEqual(problems(file), ["mqtt.urll: unknown key (did you mean 'url'?) (unknown.yaml line 3)"]);
  });

  test('every bad value is reported at once, each with its key path', () => {
    const file = writeConfig(
      'bad.yaml',
      [
        'device_id: t1',
        'model:',
        '  precision: fp16',
        'mqtt:',
        '  url: http://broker:1883',
        'cameras:',
        '  cam:',
        `    source: dir:${tmp}`,
        '    fps: -1',
        '    roi: [0, 0, 100]',
        'detector:',
        '  sensitivity: 1.5',
        'retune:',
        '  cron: "61 * * * *"',
        '',
      ].join('\n'),
    );
    const lines = problems(file);
    const paths = lines.map((l) => l.slice(0, l.indexOf(':')));
    assert.deepEqual(paths.sort(), ['cameras.cam.fps', 'cameras.cam.roi', 'detector.sensitivity', 'model.precision', 'mqtt.url', 'retune.cron']);
    const line = (p: string) => lines.find((l) => l.startsWith(`${p}:`))!;
    assert.match(line('cameras.cam.fps'), /must be a number > 0 and <= 120 \(got -1\) \(bad\.yaml line 9\)$/);
    assert.match(line('model.precision'), /must be one of fp32, int8 \(got "fp16"\)/);
    assert.match(line('mqtt.url'), /must be "embedded" or an mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ URL with a host \(got "http:\/\/broker:1883"\)/);
    assert.match(line('retune.cron'), /invalid cron expression "61 \* \* \* \*": 61 is a invalid expression for minute/);
    assert.match(line('cameras.cam.roi'), /\[x, y, width, height\].*\(got \[0,0,100\]\)/);
    assert.match(line('detector.sensitivity'), /in 0\.\.1 \(got 1\.5\)/);
  });

  test('camera sources: missing files and unsupported schemes are rejected, devices accepted', () => {
    const cases: [string, RegExp | null][] = [
      ['/dev/video2', null],
      ['http://127.0.0.1:8081/stream.mjpg', null],
      [path.join(tmp, 'missing.mp4'), /cameras\.cam\.source: no such video file/],
      ['dir:./missing-folder', /cameras\.cam\.source: no such directory: .*missing-folder/],
      ['udp://239.0.0.1:1234', /unsupported URL scheme 'udp:'/],
    ];
    for (const [source, expected] of cases) {
      const r = loadConfig(writeConfig('src.yaml', minimal(`    source: ${source}\n`)), {});
      if (expected === null) assert.ok(r.ok, `${source}: ${r.ok ? '' : r.error}`);
      else assert.match(r.ok ? '' : r.error, expected, source);
    }
  });

  test('ignore polygons need at least 3 points; a required key is reported missing', () => {
    const file = writeConfig('poly.yaml', `cameras:\n  cam:\n    source: dir:${tmp}\n    ignore: [[[0, 0], [10, 0]]]\n`);
    const lines = problems(file);
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^device_id: required/);
    assert.match(lines[1], /^cameras\.cam\.ignore\[0\]: must be a list of at least 3 \[x, y\] points \(got \[\[0,0\],\[10,0\]\]\) \(poly\.yaml line 4\)$/);
  });

  test('environment overrides are applied, parsed by type and validated like the file', () => {
    const file = writeConfig('env.yaml', minimal(`    source: dir:${tmp}\n`));
    const r = loadConfig(file, {
      LINEWATCH_DETECTOR_SENSITIVITY: '0.8',
      LINEWATCH_CAMERAS_CAM_ROI: '[10, 20, 300, 200]',
      LINEWATCH_MQTT_PASSWORD: '12345', // a text key: stays a string
      LINEWATCH_MQTT_USERNAME: 'line',
      LINEWATCH_RETUNE_CRON: 'null',
      LINEWATCH_LOG_LEVEL: 'debug', // not configuration: ignored
    });
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.equal(r.value.detector.sensitivity, 0.8);
    assert.deepEqual(r.value.cameras.cam.roi, [10, 20, 300, 200]);
    assert.equal(r.value.mqtt.password, '12345');
    assert.equal(r.value.retune.cron, null);

    assert.deepEqual(problems(file, { LINEWATCH_DETECTOR_SENSITIVITY: '2', LINEWATCH_MQTT_PORTT: '1' }), [
      'LINEWATCH_MQTT_PORTT: environment variable names no configuration key (camera keys only for cameras in the file)',
      'detector.sensitivity: must be a number in 0..1 (got 2) (from LINEWATCH_DETECTOR_SENSITIVITY)',
    ]);
  });

  test('keys that depend on each other are checked together', () => {
    const file = writeConfig(
      'cross.yaml',
      [
        'device_id: t1',
        'retune: { min_normals: 32, max_normals: 8 }',
        'cameras:',
        `  slow: { source: "dir:${tmp}", fps: 0.25, watchdog_s: 6 }`,
        `  line-1: { source: "dir:${tmp}" }`,
        `  line_1: { source: "dir:${tmp}" }`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(problems(file), [
      'retune.max_normals: must be >= retune.min_normals (32) (cross.yaml line 2)',
      'cameras.slow.watchdog_s: must span at least two frame intervals (>= 8 s at 0.25 fps) (cross.yaml line 4)',
      "cameras.line_1: clashes with camera 'line-1' in environment variable names (LINEWATCH_CAMERAS_LINE_1_*) (cross.yaml line 6)",
    ]);
  });

  test('a badly named camera is reported and its body is still checked (defect 9)', () => {
    const file = writeConfig('badname.yaml', `${minimal(`    source: dir:${tmp}\n`)}  "bad name":\n    source: dir:${tmp}\n    fps: 0\n    fpss: 2\n`);
    assert.deepEqual(problems(file), [
      'cameras.bad name: camera names are part of MQTT topics: 1-64 letters, digits, _ or -, starting with a letter or digit (badname.yaml line 6)',
      "cameras.bad name.fpss: unknown key (did you mean 'fps'?) (badname.yaml line 8)",
      'cameras.bad name.fps: must be a number > 0 and <= 120 (got 0) (badname.yaml line 7)',
    ]);
  });

  test('__proto__, constructor and hasOwnProperty are unknown keys, and nothing is written through a prototype', () => {
    const file = writeConfig(
      'proto.yaml',
      [
        'device_id: t1',
        '__proto__: { polluted: yes }',
        'constructor: 1',
        'mqtt:',
        '  hasOwnProperty: 2',
        'cameras:',
        '  cam:',
        `    source: dir:${tmp}`,
        '    __proto__: { fps: 0 }',
        '    constructor: { name: x }',
        '',
      ].join('\n'),
    );
    const lines = problems(file, { LINEWATCH_CAMERAS_CAM_CONSTRUCTOR: '3', LINEWATCH_MQTT___PROTO__: '{ polluted: yes }' });
    assert.deepEqual(lines.map((l) => l.slice(0, l.indexOf(': '))).sort(), [
      'LINEWATCH_CAMERAS_CAM_CONSTRUCTOR',
      'LINEWATCH_MQTT___PROTO__',
      '__proto__',
      'cameras.cam.__proto__',
      'cameras.cam.constructor',
      'constructor',
      'mqtt.hasOwnProperty',
    ]);
    assert.ok(
      lines.every((l) => /: (unknown key|environment variable names no configuration key)/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        'mqtt.hasOwnProperty: unknown key (known: url, port, username, password, ca, cert, key, protocol_version, topic_prefix, command_secret, outbox_max_mb) (proto.yaml line 5)',
      ),
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, 'fps'), false);
  });

  test('http.allowed_hosts takes host names and IP addresses with an optional port', () => {
    const good = writeConfig(
      'hosts.yaml',
      `${minimal(`    source: dir:${tmp}\n`)}http:\n  allowed_hosts: [linewatch.plant.local, "aoi-1:8080", 10.0.20.5, "[fe80::1]:8080", "::1"]\n`,
    );
    const r = loadConfig(good, {});
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.value.http.allowed_hosts, ['linewatch.plant.local', 'aoi-1:8080', '10.0.20.5', '[fe80::1]:8080', '::1']);
    const fromEnv = loadConfig(good, { LINEWATCH_HTTP_ALLOWED_HOSTS: '[proxy.local]' });
    assert.deepEqual(fromEnv.ok && fromEnv.value.http.allowed_hosts, ['proxy.local']);

    const bad = writeConfig('badhosts.yaml', `${minimal(`    source: dir:${tmp}\n`)}http:\n  allowed_hosts: [ok.local, "http://x", "host:99999", "a b"]\n`);
    assert.deepEqual(problems(bad), [
      'http.allowed_hosts[1]: must be a host name or IP address, optionally with :port (got "http://x") (badhosts.yaml line 6)',
      'http.allowed_hosts[2]: must be a host name or IP address, optionally with :port (got "host:99999") (badhosts.yaml line 6)',
      'http.allowed_hosts[3]: must be a host name or IP address, optionally with :port (got "a b") (badhosts.yaml line 6)',
    ]);
    assert.deepEqual(problems(good, { LINEWATCH_HTTP_ALLOWED_HOSTS: 'proxy.local' }), [
      'http.allowed_hosts: must be a list (got "proxy.local") (from LINEWATCH_HTTP_ALLOWED_HOSTS)',
    ]);
  });

  test('problems are phrased from the schema keywords; a secret value never appears in them', () => {
    const file = writeConfig(
      'phrase.yaml',
      minimal(`    source: dir:${tmp}\n    enabled: "yes"\n`) +
        'http:\n  port: 70000\nmqtt:\n  command_secret: hunter2-short\n  protocol_version: 3\nmodel:\n  threads: 1.5\n',
    );
    const lines = problems(file, { LINEWATCH_MQTT_URL: 'mqtt://:1883' });
    assert.deepEqual(lines.sort(), [
      'cameras.cam.enabled: must be true or false (got "yes") (phrase.yaml line 5)',
      'http.port: must be an integer in 0..65535 (got 70000) (phrase.yaml line 7)',
      'model.threads: must be an integer >= 0 (got 1.5) (phrase.yaml line 12)',
      'mqtt.command_secret: must be at least 16 characters (it keys HMAC-SHA256) or null (phrase.yaml line 9)',
      'mqtt.protocol_version: must be one of 4, 5 (got 3) (phrase.yaml line 10)',
      'mqtt.url: must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// URL with a host (got "mqtt://:1883") (from LINEWATCH_MQTT_URL)',
    ]);
    assert.ok(!lines.join('\n').includes('hunter2'));
  });

  test('the published JSON Schema accepts both example configurations and refuses a bad one', () => {
    const published = compileSchema(JSON.parse(readFileSync(path.join(root, 'config/linewatch.schema.json'), 'utf8')));
    for (const example of ['config/default.yaml', 'config/example-line.yaml']) {
      const text = readFileSync(path.join(root, example), 'utf8');
      assert.match(text, /^# yaml-language-server: \$schema=\.\/linewatch\.schema\.json\n/, example);
      const r = published.check(YAML.parse(text));
      assert.ok(r.ok, `${example}: ${r.ok ? '' : JSON.stringify(r.error.map((p) => [p.path, p.message]))}`);
    }
    const bad = published.check(YAML.parse(minimal('    source: dir:x\n    fps: 0\n    fpss: 1\n')));
    assert.deepEqual(bad.ok ? [] : bad.error.map((p) => p.path.join('.')).sort(), ['cameras.cam.fps', 'cameras.cam.fpss']);
  });

  test('YAML syntax errors and duplicate keys give file, line and column', () => {
    const file = writeConfig('dup.yaml', `device_id: a\ndevice_id: b\n`);
    const [line] = problems(file);
    assert.match(line, /dup\.yaml:2:1: Map keys must be unique/);
  });

  test('validate-config exits 2 naming the key on stderr, 0 on a good file', async () => {
    const run = promisify(execFile);
    const cli = path.join(root, 'bin/linewatch.js');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LINEWATCH_')));
    const bad = writeConfig('cli.yaml', minimal(`    source: dir:${tmp}\n    fps: -1\n`));
    const failed = await run(process.execPath, [cli, 'validate-config', '--config', bad], { env }).then(
      () => assert.fail('expected exit code 2'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(failed.code, 2);
    assert.match(failed.stderr, /cameras\.cam\.fps: must be a number > 0/);

    const good = await run(process.execPath, [cli, 'validate-config', '--config', path.join(root, 'config/default.yaml')], { env });
    assert.match(good.stdout, /ok, device demo, 1 camera\(s\)/);

    // secrets stay out of both outputs: a camera URL's password, a too-short command secret
    const tls = Object.fromEntries(['CA', 'CERT', 'KEY'].map((k) => [`LINEWATCH_MQTT_${k}`, path.join(tmp, `${k}.pem`)]));
    for (const f of Object.values(tls)) writeFileSync(f, 'pem');
    const line = await run(process.execPath, [cli, 'validate-config', '--config', path.join(root, 'config/example-line.yaml')], { env: { ...env, ...tls } });
    assert.match(line.stdout, /solder-front: rtsp:\/\/viewer:\*\*\*@10\.0\.20\.11:554\/stream1 at 5 fps/);
    assert.doesNotMatch(line.stdout, /secret/);
    const leaky = await run(process.execPath, [cli, 'validate-config', '--config', path.join(root, 'config/example-line.yaml')], {
      env: { ...env, ...tls, LINEWATCH_MQTT_COMMAND_SECRET: 'hunter2-short' },
    }).then(
      () => assert.fail('expected exit code 2'),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal(leaky.code, 2);
    assert.match(leaky.stderr, /mqtt\.command_secret: must be at least 16 characters .*\(from LINEWATCH_MQTT_COMMAND_SECRET\)/);
    assert.doesNotMatch(leaky.stdout + leaky.stderr, /hunter2/);
  });
});

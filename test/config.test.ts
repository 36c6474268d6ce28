import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../agent/config.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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
    assert.match(line('mqtt.url'), /unsupported scheme 'http:'/);
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
    assert.match(lines[1], /^cameras\.cam\.ignore: polygon 0 must be a list of at least 3 \[x, y\] points/);
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
  });
});

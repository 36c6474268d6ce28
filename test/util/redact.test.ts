// util/redact.ts: every credential form the agent may print is masked, everything else is left
// exactly as it was. Expected strings are written out by hand.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeSource, sourceCredentials } from '../../agent/camera/source-spec.ts';
import { createLogger } from '../../util/log.ts';
import { addKnownSecrets, redact, redactDeep, urlCredentials } from '../../util/redact.ts';

describe('redact: URLs with userinfo', () => {
  const cases: Array<[string, string]> = [
    ['rtsp://admin:S3cretPw@10.0.0.5:554/stream1', 'rtsp://admin:***@10.0.0.5:554/stream1'],
    ['rtsps://admin:S3cretPw@cam.local/live', 'rtsps://admin:***@cam.local/live'],
    ['http://user:pw@127.0.0.1:8081/video.mjpg', 'http://user:***@127.0.0.1:8081/video.mjpg'],
    ['https://user:pw@example.com', 'https://user:***@example.com'],
    ['rtmp://pub:streamkey@ingest.example.com/app', 'rtmp://pub:***@ingest.example.com/app'],
    ['srt://caller:pw@10.1.1.1:9000', 'srt://caller:***@10.1.1.1:9000'],
    ['udp://u:p@239.0.0.1:1234', 'udp://u:***@239.0.0.1:1234'],
    ['mqtts://agent:Mqtt-Pw1@broker:8883', 'mqtts://agent:***@broker:8883'],
    // percent-encoded and raw '@' in the password: the host starts after the last '@'
    ['rtsp://admin:p%40ss%3Aw0rd@10.0.0.5/s', 'rtsp://admin:***@10.0.0.5/s'],
    ['rtsp://admin:p@ss@10.0.0.5/s', 'rtsp://admin:***@10.0.0.5/s'],
    // an empty password still shows that there was one
    ['rtsp://admin:@10.0.0.5/s', 'rtsp://admin:***@10.0.0.5/s'],
    // a user-only userinfo that is a token
    ['https://ghp_a1B2c3D4e5F6g7H8i9J0k1L2@github.com/o/r.git', 'https://***@github.com/o/r.git'],
  ];
  for (const [input, expected] of cases) {
    test(input, () => assert.equal(redact(input), expected));
  }

  test('inside an ffmpeg error line and inside JSON', () => {
    assert.equal(
      redact('ffmpeg exited with code 1: rtsp://user:S3cretPw@127.0.0.1:9/stream: Connection refused'),
      'ffmpeg exited with code 1: rtsp://user:***@127.0.0.1:9/stream: Connection refused',
    );
    assert.equal(
      redact('{"a":"http://plain.example/x","b":"rtsp://u:pw@h/s","c":"mail me@home"}'),
      '{"a":"http://plain.example/x","b":"rtsp://u:***@h/s","c":"mail me@home"}',
    );
  });

  test('a user name alone is kept when it is not token-like', () => {
    assert.equal(redact('rtsp://operator@10.0.0.5/s'), 'rtsp://operator@10.0.0.5/s');
  });

  test('masking twice changes nothing more', () => {
    const once = redact('rtsp://admin:pw@h/s?token=abc');
    assert.equal(redact(once), once);
  });
});

describe('redact: query and key=value secrets', () => {
  const cases: Array<[string, string]> = [
    ['http://cam/snap.jpg?user=admin&password=S3cret&res=hd', 'http://cam/snap.jpg?user=admin&password=***&res=hd'],
    ['http://cam/v?passwd=x1&pwd=x2', 'http://cam/v?passwd=***&pwd=***'],
    ['https://s3.example/o?X-Amz-Signature=abcd1234&X-Amz-Date=20260101', 'https://s3.example/o?X-Amz-Signature=***&X-Amz-Date=20260101'],
    ['https://h/x?token=eyJhbGciOi.payload.sig#frag', 'https://h/x?token=***#frag'],
    [
      'https://h/x?access_token=t0k&auth=basic&key=k3y&api_key=a&secret=s&sig=0f',
      'https://h/x?access_token=***&auth=***&key=***&api_key=***&secret=***&sig=***',
    ],
    ['srt://10.1.1.1:9000?streamid=cam1&passphrase=longpassphrase1', 'srt://10.1.1.1:9000?streamid=cam1&passphrase=***'],
    ['retrying with TOKEN=abc123 after 5 s', 'retrying with TOKEN=*** after 5 s'],
  ];
  for (const [input, expected] of cases) {
    test(input, () => assert.equal(redact(input), expected));
  }

  test('names that merely end in a secret word are left alone', () => {
    assert.equal(redact('monkey=3 passage=4 keyframe=1'), 'monkey=3 passage=4 keyframe=1');
  });
});

describe('redact: configured secrets replaced literally', () => {
  test('a decoded password on its own, percent-encoded and JSON-escaped', () => {
    const secret = 'Pa"ss w@rd-91';
    addKnownSecrets([secret]);
    assert.equal(redact(`authentication failed for password Pa"ss w@rd-91`), 'authentication failed for password ***');
    assert.equal(redact('rtsp://cam/s?x=Pa%22ss%20w%40rd-91'), 'rtsp://cam/s?x=***');
    assert.equal(redact(JSON.stringify({ m: `got ${secret}` })), '{"m":"got ***"}');
  });

  test('registered secrets apply to every later call', () => {
    const secret = `cmd-secret-${process.pid}-zq`;
    assert.equal(redact(`bad signature for ${secret}`), `bad signature for ${secret}`);
    addKnownSecrets([secret, null, undefined, '']);
    assert.equal(redact(`bad signature for ${secret}`), 'bad signature for ***');
  });

  test('one- and two-character values are not replaced everywhere', () => {
    addKnownSecrets(['a', 'xy']);
    assert.equal(redact('a day by xylophone'), 'a day by xylophone');
  });

  test('the credentials of a URL, decoded and as written', () => {
    assert.deepEqual(urlCredentials('rtsp://admin:p%40ss@h/s'), ['p%40ss', 'p@ss']);
    assert.deepEqual(urlCredentials('rtsp://admin@h/s?res=hd&sig=0f%2B1'), ['0f+1']);
    assert.deepEqual(urlCredentials('not a url'), []);
  });
});

describe('redact: text without secrets is unchanged', () => {
  const plain = [
    'restarting in 2000 ms',
    'ffmpeg exited with code 1: rtsp://10.0.0.5:554/stream: Connection refused',
    'dir:/var/lib/linewatch/frames',
    'http://127.0.0.1:8080/api/state?camera=line-1&fps=2',
    'model /opt/bundles/clip-b16 (fp32) on cpu, prompt set ps-0007',
    '{"state":"offline","reason":"no frame for 12 s","ts":1764600000000}',
    'user@example.com wrote: 5 > 3 & 2 < 4',
    '',
  ];
  for (const text of plain) test(JSON.stringify(text), () => assert.equal(redact(text), text));
});

describe('redactDeep', () => {
  test('masks strings at any depth, keeps numbers, booleans, null and the shape', () => {
    const state = { cameras: [{ name: 'gate', status_reason: 'rtsp://u:pw@h/s: Connection refused', score: 0.5, anomalous: false, frame_id: null }] };
    assert.deepEqual(redactDeep(state), {
      cameras: [{ name: 'gate', status_reason: 'rtsp://u:***@h/s: Connection refused', score: 0.5, anomalous: false, frame_id: null }],
    });
  });
});

describe('camera sources use the same masking', () => {
  test('describeSource and the credentials a source holds', () => {
    const spec = { kind: 'rtsp' as const, url: 'rtsp://admin:S3cretPw@10.0.0.5:554/stream?token=t0k' };
    assert.equal(describeSource(spec), 'rtsp://admin:***@10.0.0.5:554/stream?token=***');
    assert.deepEqual(sourceCredentials(spec), ['S3cretPw', 't0k']);
    assert.deepEqual(sourceCredentials({ kind: 'dir', path: '/x' }), []);
  });
});

describe('log lines are redacted (the last line of defence)', () => {
  test('the message and every field, also nested and JSON-escaped', (t) => {
    const written: string[] = [];
    t.mock.method(process.stderr, 'write', (chunk: string) => (written.push(chunk), true));
    const secret = `lit"eral-${process.pid}`;
    addKnownSecrets([secret]);
    const log = createLogger('test');
    log.warn('cannot open rtsp://admin:S3cretPw@10.0.0.5/s', { url: 'http://u:pw2@h/x?token=t0k', nested: { why: `auth failed: ${secret}` }, n: 3 });
    t.mock.restoreAll();
    assert.equal(written.length, 1);
    const line = written[0];
    assert.match(line, / WARN {2}\[test\] cannot open rtsp:\/\/admin:\*\*\*@10\.0\.0\.5\/s \{/);
    assert.deepEqual(JSON.parse(line.slice(line.indexOf(' {') + 1)), { url: 'http://u:***@h/x?token=***', nested: { why: 'auth failed: ***' }, n: 3 });
    for (const s of ['S3cretPw', 'pw2', 't0k', secret, JSON.stringify(secret).slice(1, -1)]) assert.ok(!line.includes(s), `${s} in ${line}`);
  });
});

// `model pull` against a local server that answers the way the Hugging Face hub does:
// tree listing with LFS sha256, resolve URLs that redirect LFS files to a CDN path, Range support.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { resolveBundle } from '../../agent/model/model-resolver.ts';
import { loadBundle } from '../../models/bundle/load.ts';
import { type PullOptions, pullRepo } from '../../models/hub-pull.ts';
import { createLogger } from '../../util/log.ts';
import { REPO_ROOT, TINY_CLIP } from '../support/paths.ts';

const fixture = pathToFileURL(`${TINY_CLIP}/`);
const read = (rel: string) => readFileSync(new URL(rel, fixture));

// A repository laid out like laion's CLIP repos: both weight layouts plus formats we must skip.
const repoFiles: Record<string, { data: Buffer; lfs: boolean }> = {
  'open_clip_config.json': { data: read('open_clip_config.json'), lfs: false },
  'open_clip_model.safetensors': { data: read('open_clip_model.safetensors'), lfs: true },
  'config.json': { data: read('hf/config.json'), lfs: false },
  'model.safetensors': { data: read('hf/model.safetensors'), lfs: true },
  'tokenizer_config.json': { data: Buffer.from('{"model_max_length": 77}\n'), lfs: false },
  'pytorch_model.bin': { data: Buffer.alloc(4096, 7), lfs: true },
  'flax_model.msgpack': { data: Buffer.alloc(2048, 9), lfs: true },
  'onnx/model.onnx': { data: Buffer.alloc(1024, 3), lfs: true },
};
const REPO = 'test-org/tiny-clip';
const PT_ONLY_REPO = 'test-org/pt-only';

interface Logged {
  method: string;
  url: string;
  range?: string;
  auth?: string;
}

interface Behaviour {
  /** Paths whose first content transfer stops half-way (connection destroyed). */
  cutOnce: Set<string>;
  /** Paths served with one byte changed (same length). */
  corrupt: Set<string>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitBlobId = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

let server: http.Server;
let endpoint: string;
const requests: Logged[] = [];
const behaviour: Behaviour = { cutOnce: new Set(), corrupt: new Set() };

function treeEntry(p: string) {
  const { data, lfs } = repoFiles[p];
  return {
    type: 'file',
    oid: lfs ? createHash('sha1').update(p).digest('hex') : gitBlobId(data),
    size: lfs ? 134 : data.length,
    path: p,
    ...(lfs ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}),
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, errorCode?: string) {
  res.writeHead(status, { 'content-type': 'application/json', ...(errorCode ? { 'x-error-code': errorCode } : {}) });
  res.end(JSON.stringify(body));
}

function serveContent(req: http.IncomingMessage, res: http.ServerResponse, p: string) {
  let data = repoFiles[p].data;
  if (behaviour.corrupt.has(p)) {
    data = Buffer.from(data);
    data[data.length >> 1] ^= 0xff;
  }
  const headers = { etag: `"${sha256(repoFiles[p].data)}"`, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    const start = Number(m?.[1]);
    const end = m?.[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
    if (!m || start >= data.length || start > end) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` });
      res.end();
      return;
    }
    res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${data.length}` });
    res.end(data.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': data.length });
  if (behaviour.cutOnce.delete(p)) {
    res.write(data.subarray(0, data.length >> 1), () => res.socket?.destroy());
    return;
  }
  res.end(data);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse) {
  requests.push({ method: req.method ?? '', url: req.url ?? '', range: req.headers.range, auth: req.headers.authorization });
  const url = new URL(req.url ?? '/', 'http://localhost');
  const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
  if (tree) {
    const [, repo, rev] = tree;
    if (repo !== REPO && repo !== PT_ONLY_REPO) return sendJson(res, 404, { error: 'Repository not found' }, 'RepoNotFound');
    if (rev !== 'main') return sendJson(res, 404, { error: `Invalid rev id: ${rev}` }, 'RevisionNotFound');
    const names = repo === REPO ? Object.keys(repoFiles) : ['pytorch_model.bin'];
    const recursive = url.searchParams.get('recursive') === 'true';
    const top = names.filter((n) => recursive || !n.includes('/'));
    const dirs = recursive ? [] : [{ type: 'directory', oid: '0'.repeat(40), size: 0, path: 'onnx' }];
    return sendJson(res, 200, [...top.map(treeEntry), ...dirs]);
  }
  const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
  if (cdn) return serveContent(req, res, decodeURIComponent(cdn[1]));
  const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
  if (resolve && resolve[1] === REPO && resolve[2] === 'main' && repoFiles[resolve[3]]) {
    const p = resolve[3];
    // The hub redirects LFS content to its CDN and keeps serving small git files itself.
    if (repoFiles[p].lfs) {
      res.writeHead(302, {
        location: `/cdn/${encodeURIComponent(p)}`,
        'x-linked-size': repoFiles[p].data.length,
        'x-linked-etag': `"${sha256(repoFiles[p].data)}"`,
      });
      return res.end();
    }
    return serveContent(req, res, p);
  }
  res.writeHead(404, { 'x-error-code': 'EntryNotFound' });
  res.end('Entry not found');
}

before(async () => {
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function freshDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'pull-'));
}

function reset() {
  requests.length = 0;
  behaviour.cutOnce.clear();
  behaviour.corrupt.clear();
}

function options(outDir: string, extra: Partial<PullOptions> = {}): PullOptions {
  return { repo: REPO, outDir, endpoint, retryDelayMs: 0, ...extra };
}

function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

test('full download: the OpenCLIP layout byte for byte, other formats skipped; a second run fetches nothing', async () => {
  reset();
  const out = freshDir();
  try {
    const result = await pullRepo(options(out));
    assert.ok(result.ok, result.ok ? '' : result.error);
    assert.equal(result.value.layout, 'openclip');
    assert.deepEqual(listDir(out), ['open_clip_config.json', 'open_clip_model.safetensors', 'tokenizer_config.json']);
    assert.ok(readFileSync(path.join(out, 'open_clip_model.safetensors')).equals(read('open_clip_model.safetensors')));
    assert.ok(readFileSync(path.join(out, 'open_clip_config.json')).equals(read('open_clip_config.json')));
    assert.ok(!requests.some((r) => /pytorch_model|flax|onnx\//.test(r.url)), 'skipped formats are never requested');
    assert.ok(
      requests.every((r) => r.auth === undefined),
      'no token, no Authorization header',
    );

    requests.length = 0;
    const again = await pullRepo(options(out));
    assert.ok(again.ok);
    assert.deepEqual(
      again.value.files.map((f) => f.status),
      ['present', 'present', 'present'],
    );
    assert.deepEqual(
      requests.map((r) => r.url.split('?')[0]),
      [`/api/models/${REPO}/tree/main`],
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('--layout hf fetches config.json + model.safetensors', async () => {
  reset();
  const out = freshDir();
  try {
    const result = await pullRepo(options(out, { layout: 'hf' }));
    assert.ok(result.ok, result.ok ? '' : result.error);
    assert.deepEqual(listDir(out), ['config.json', 'model.safetensors', 'tokenizer_config.json']);
    assert.ok(readFileSync(path.join(out, 'model.safetensors')).equals(read('hf/model.safetensors')));
    assert.ok(readFileSync(path.join(out, 'config.json')).equals(read('hf/config.json')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a connection cut half-way is resumed in the same run with a Range request', async () => {
  reset();
  const out = freshDir();
  const file = 'open_clip_model.safetensors';
  const size = repoFiles[file].data.length;
  behaviour.cutOnce.add(file);
  try {
    const result = await pullRepo(options(out));
    assert.ok(result.ok, result.ok ? '' : result.error);
    const ranges = requests.filter((r) => r.url === `/cdn/${file}` && r.range !== 'bytes=0-0').map((r) => r.range);
    // The retry asks for the rest of what arrived (at most the half the server sent before the cut).
    assert.equal(ranges.length, 2);
    assert.equal(ranges[0], undefined);
    const resumedFrom = Number(new RegExp(`^bytes=(\\d+)-${size - 1}$`).exec(ranges[1] ?? '')?.[1]);
    assert.ok(resumedFrom > 0 && resumedFrom <= size >> 1, `second request range: ${ranges[1]}`);
    assert.ok(readFileSync(path.join(out, file)).equals(repoFiles[file].data));
    assert.ok(!existsSync(path.join(out, `${file}.part`)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('an interrupted run leaves FILE.part; the next run continues from it', async () => {
  reset();
  const out = freshDir();
  const file = 'open_clip_model.safetensors';
  const size = repoFiles[file].data.length;
  behaviour.cutOnce.add(file);
  try {
    const first = await pullRepo(options(out, { retries: 0 }));
    assert.ok(!first.ok);
    // The server sends half the file before cutting; how much of it reaches the client before the
    // reset depends on socket timing, so the test reads the count the error reports.
    const stopped = new RegExp(`^${file}: download stopped at (\\d+) of ${size} bytes .*run the same command again to resume$`).exec(first.error);
    assert.ok(stopped, first.error);
    const kept = Number(stopped[1]);
    assert.ok(kept > 0 && kept <= size >> 1, `kept ${kept} bytes`);
    assert.equal(statSync(path.join(out, `${file}.part`)).size, kept);
    assert.ok(!existsSync(path.join(out, file)));

    requests.length = 0;
    const second = await pullRepo(options(out, { retries: 0 }));
    assert.ok(second.ok, second.ok ? '' : second.error);
    assert.equal(second.value.files.find((f) => f.path === file)?.status, 'resumed');
    const transfers = requests.filter((r) => r.url === `/cdn/${file}` && r.range !== 'bytes=0-0');
    assert.deepEqual(
      transfers.map((r) => r.range),
      [`bytes=${kept}-${size - 1}`],
    );
    assert.ok(readFileSync(path.join(out, file)).equals(repoFiles[file].data));
    assert.deepEqual(listDir(out), ['open_clip_config.json', 'open_clip_model.safetensors', 'tokenizer_config.json']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('corrupt weights are rejected by sha256, named, and nothing is left under the final name', async () => {
  reset();
  const out = freshDir();
  const file = 'open_clip_model.safetensors';
  behaviour.corrupt.add(file);
  try {
    const result = await pullRepo(options(out));
    assert.ok(!result.ok);
    assert.match(
      result.error,
      new RegExp(`^${file}: downloaded content does not match the hub's sha256 \\(expected ${sha256(repoFiles[file].data)}, got [0-9a-f]{64}\\)`),
    );
    assert.ok(!existsSync(path.join(out, file)));
    assert.ok(!existsSync(path.join(out, `${file}.part`)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a corrupt small git file is rejected by its git blob id', async () => {
  reset();
  const out = freshDir();
  behaviour.corrupt.add('open_clip_config.json');
  try {
    const result = await pullRepo(options(out));
    assert.ok(!result.ok);
    assert.match(result.error, /^open_clip_config\.json: downloaded content does not match the hub's git-blob-sha1/);
    assert.ok(!existsSync(path.join(out, 'open_clip_config.json')));
    assert.ok(!existsSync(path.join(out, 'open_clip_config.json.part')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// The CLI runs in a child process: it reads the real environment and owns its stdout (the test
// runner reports over this process's stdout).
function runCli(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const entry = `import('./cli/model-pull.ts').then((m) => m.run(${JSON.stringify(argv)})).then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(String(e.message)); process.exitCode = 99; });`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', entry],
      { cwd: REPO_ROOT, env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', ...env } },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

test('the CLI honours HF_ENDPOINT and sends HF_TOKEN as a Bearer token on every request', async () => {
  reset();
  const out = freshDir();
  try {
    const { code, stdout } = await runCli([REPO, '--out', out], { HF_ENDPOINT: `${endpoint}/`, HF_TOKEN: 'hf_localtesttoken' });
    assert.equal(code, 0);
    assert.equal(stdout, `${out}\n`);
    assert.ok(requests.length >= 4);
    assert.deepEqual(new Set(requests.map((r) => r.auth)), new Set(['Bearer hf_localtesttoken']));
    assert.ok(readFileSync(path.join(out, 'open_clip_model.safetensors')).equals(read('open_clip_model.safetensors')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('unknown repository and unknown revision give clear errors', async () => {
  reset();
  const out = freshDir();
  try {
    const missing = await pullRepo(options(out, { repo: 'nobody/missing' }));
    assert.ok(!missing.ok);
    assert.equal(
      missing.error,
      `repository nobody/missing@main at ${endpoint} not found (Repository not found); check the id and revision, or set HF_TOKEN for a private or gated repository`,
    );
    const badRev = await pullRepo(options(out, { revision: 'v9' }));
    assert.ok(!badRev.ok);
    assert.match(badRev.error, /^repository test-org\/tiny-clip@v9 at .* not found \(Invalid rev id: v9\)/);
    const cli = await runCli(['nobody/missing', '--out', out], { HF_ENDPOINT: endpoint });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^linewatch model pull: repository nobody\/missing@main .* not found/);
    assert.deepEqual(listDir(out), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a repository without readable weights, a bad token and an unreachable endpoint are reported', async () => {
  reset();
  const out = freshDir();
  try {
    const ptOnly = await pullRepo(options(out, { repo: PT_ONLY_REPO }));
    assert.ok(!ptOnly.ok);
    assert.match(ptOnly.error, /has no CLIP weights linewatch can read: .*open_clip_model\.safetensors.* \(weight files there: pytorch_model\.bin\)$/);

    const badToken = await pullRepo(options(out, { token: 'secret' }));
    assert.ok(!badToken.ok);
    assert.match(badToken.error, /HF_TOKEN is not a Hugging Face access token/);

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await pullRepo(options(out, { endpoint: deadEndpoint }));
    assert.ok(!unreachable.ok);
    assert.match(unreachable.error, new RegExp(`^cannot reach ${REPO}@main at ${deadEndpoint}: ECONNREFUSED`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('CLI argument errors: exit 2 with the reason', async () => {
  const cases: [string[], RegExp][] = [
    [[], /expected exactly one REPO_ID, got 0\n\nusage: linewatch model pull/],
    [['a/b', 'c/d'], /expected exactly one REPO_ID, got 2/],
    [['a/b', '--bogus'], /Unknown option '--bogus'/],
    [['a/b', '--layout', 'tf'], /--layout takes one of auto, openclip, hf, not 'tf'/],
    [['a/b', '--revision', ' '], /--revision must not be empty/],
    [['datasets/x/y'], /not a model repository/],
    [['a/b/c'], /not a repository id/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv, {});
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^linewatch model pull: /);
    assert.match(r.stderr, message);
  }
  const help = await runCli(['--help'], {});
  assert.equal(help.code, 0);
  assert.match(help.stdout, /models-cache\/OWNER__NAME/);
});

test('a file written by someone else under a final name is replaced only after verification', async () => {
  reset();
  const out = freshDir();
  try {
    writeFileSync(path.join(out, 'open_clip_config.json'), 'stale');
    const result = await pullRepo(options(out));
    assert.ok(result.ok, result.ok ? '' : result.error);
    assert.equal(result.value.files.find((f) => f.path === 'open_clip_config.json')?.status, 'downloaded');
    assert.ok(readFileSync(path.join(out, 'open_clip_config.json')).equals(read('open_clip_config.json')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the agent's model.bundle owner/name pulls from the hub and builds the bundle once per model.precision", async () => {
  reset();
  const dataDir = freshDir();
  process.env.HF_ENDPOINT = endpoint;
  try {
    const first = await resolveBundle({ kind: 'hub', repo: REPO }, 'fp32', dataDir, createLogger('test'));
    assert.ok(first.ok, first.ok ? '' : first.error);
    assert.equal(first.value.demo, false);
    assert.equal(first.value.dir, path.join(dataDir, 'bundles', 'test-org__tiny-clip'));
    const bundle = await loadBundle(first.value.dir);
    assert.ok(bundle.ok, bundle.ok ? '' : bundle.error);
    assert.equal(bundle.value.manifest.vision.imageSize, 64);
    assert.ok(requests.some((r) => r.url.includes('open_clip_model.safetensors')));
    reset();
    const again = await resolveBundle({ kind: 'hub', repo: REPO }, 'fp32', dataDir, createLogger('test'));
    assert.ok(again.ok);
    assert.equal(requests.length, 0, 'an installed bundle is used without asking the hub');
    // model.precision int8: a second bundle from the same download, beside the float32 one
    const int8 = await resolveBundle({ kind: 'hub', repo: REPO }, 'int8', dataDir, createLogger('test'));
    assert.ok(int8.ok, int8.ok ? '' : int8.error);
    assert.equal(int8.value.dir, path.join(dataDir, 'bundles', 'test-org__tiny-clip__int8'));
    const int8Bundle = await loadBundle(int8.value.dir);
    assert.ok(int8Bundle.ok, int8Bundle.ok ? '' : int8Bundle.error);
    assert.equal(int8Bundle.value.manifest.vision.precision, 'int8');
    assert.equal(bundle.value.manifest.vision.precision, 'fp32');
    assert.ok(!requests.some((r) => r.url.startsWith('/cdn/')), 'the weights are not downloaded again');
    const missing = await resolveBundle({ kind: 'hub', repo: 'nobody/missing' }, 'fp32', dataDir, createLogger('test'));
    assert.ok(!missing.ok);
    assert.match(missing.error, /^model\.bundle nobody\/missing: .*not found/);
  } finally {
    delete process.env.HF_ENDPOINT;
    rmSync(dataDir, { recursive: true, force: true });
  }
});

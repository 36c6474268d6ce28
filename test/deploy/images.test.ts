// What can be known about the container images without building them (no GPU, no NVIDIA base
// images here): the GPU images build onnxruntime-node's native part at exactly the version
// package-lock.json pins, every file they copy and the entrypoint exist in the repository, the
// Jetson image builds onnxruntime with TensorRT, CUDA and a Node binding patched to let TensorRT
// read its ORT_TENSORRT_* settings, and the check that
// ends each GPU build fails with a clear message when the providers are not in place.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/paths.ts';

const DOCKERFILES = ['deploy/Dockerfile', 'deploy/Dockerfile.gpu', 'deploy/Dockerfile.jetson'];
const GPU_DOCKERFILES = ['deploy/Dockerfile.gpu', 'deploy/Dockerfile.jetson'];

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(file: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  readFileSync(path.join(REPO_ROOT, file), 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line.startsWith('#') || (line === '' && !pending)) return;
      const text = pending ? `${pending.text} ${line}` : line;
      const start = pending?.line ?? i + 1;
      if (text.endsWith('\\')) {
        pending = { text: text.slice(0, -1).trim(), line: start };
        return;
      }
      pending = null;
      const [keyword, ...rest] = text.split(/\s+/);
      out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: start });
    });
  return out;
}

function lockedOnnxruntimeVersion(): string {
  const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8'));
  const version = lock.packages?.['node_modules/onnxruntime-node']?.version;
  assert.match(version ?? '', /^\d+\.\d+\.\d+$/, 'package-lock.json pins onnxruntime-node');
  return version;
}

/** COPY sources that come from the build context (not from another stage), with their line. */
function contextCopies(file: string): { source: string; line: number }[] {
  return instructions(file)
    .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1).map((source) => ({ source, line: i.line }));
    });
}

for (const file of GPU_DOCKERFILES) {
  test(`${file}: every onnxruntime version ARG equals package-lock.json's onnxruntime-node`, () => {
    const locked = lockedOnnxruntimeVersion();
    const args = instructions(file).filter((i) => i.keyword === 'ARG' && i.args.startsWith('ONNXRUNTIME_VERSION'));
    assert.ok(args.length > 0, `${file} declares ARG ONNXRUNTIME_VERSION`);
    for (const a of args) assert.equal(a.args, `ONNXRUNTIME_VERSION=${locked}`, `${file}:${a.line}`);
  });

  test(`${file}: ends with the GPU runtime check on the folder onnxruntime-node loads its binding from`, () => {
    const runs = instructions(file).filter((i) => i.keyword === 'RUN');
    const check = runs.at(-1)!;
    const arch = file.endsWith('jetson') ? 'arm64' : 'x64';
    assert.equal(check.args, `deploy/check-gpu-runtime.sh "\${ONNXRUNTIME_VERSION}" node_modules/onnxruntime-node/bin/napi-v6/linux/${arch}`);
  });
}

for (const file of DOCKERFILES) {
  test(`${file}: every COPY source, the stages copied from, and the entrypoint exist`, () => {
    const all = instructions(file);
    for (const { source, line } of contextCopies(file)) {
      assert.ok(existsSync(path.join(REPO_ROOT, source)), `${file}:${line}: COPY ${source} is not in the repository`);
    }
    const stages = all
      .filter((i) => i.keyword === 'FROM')
      .map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1])
      .filter(Boolean);
    for (const copy of all.filter((i) => i.keyword === 'COPY' && /--from=/.test(i.args))) {
      const stage = /--from=(\S+)/.exec(copy.args)![1];
      assert.ok(stages.includes(stage), `${file}:${copy.line}: COPY --from=${stage} names no stage (${stages.join(', ')})`);
    }
    const entrypoint = all.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
    assert.ok(entrypoint, `${file} has an ENTRYPOINT`);
    const [program, script] = JSON.parse(entrypoint.args) as string[];
    assert.equal(program, 'node');
    assert.ok(statSync(path.join(REPO_ROOT, script)).isFile(), `${file}: the entrypoint ${script} exists`);
    // the entrypoint must be inside what the image copies
    const copied = contextCopies(file).map((c) => c.source.replace(/\/$/, ''));
    assert.ok(
      copied.some((c) => c === '.' || script === c || script.startsWith(`${c}/`)),
      `${file}: ${script} is copied into the image`,
    );
  });
}

test('deploy/Dockerfile.jetson builds onnxruntime at the pinned tag with TensorRT, CUDA and the Node binding', () => {
  const all = instructions('deploy/Dockerfile.jetson');
  const froms = all.filter((i) => i.keyword === 'FROM');
  assert.equal(froms.length, 2, 'a build stage and a runtime stage');
  assert.match(froms[0].args, /^\$\{JETPACK_IMAGE\} AS onnxruntime$/);
  const jetpack = all.find((i) => i.keyword === 'ARG' && i.args.startsWith('JETPACK_IMAGE='));
  assert.match(jetpack?.args ?? '', /^JETPACK_IMAGE=nvcr\.io\/nvidia\/l4t-jetpack:r36\.\d+\.\d+$/, 'JetPack 6 is L4T r36');
  const runs = all.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  assert.ok(
    runs.some((r) => r.includes('git clone --depth 1 --branch v${ONNXRUNTIME_VERSION}')),
    'clones the release tag of the pinned version',
  );
  const build = runs.find((r) => r.startsWith('./build.sh'));
  assert.ok(build, 'runs onnxruntime build.sh');
  for (const flag of ['--config Release', '--use_cuda', '--use_tensorrt', '--build_nodejs', '--skip_tests', '--tensorrt_home', '--cudnn_home', '--cuda_home']) {
    assert.ok(build.includes(flag), `build.sh ${flag}`);
  }
  const binding = all.find((i) => i.keyword === 'COPY' && i.args.startsWith('--from=onnxruntime'));
  assert.equal(binding?.args, '--from=onnxruntime /opt/onnxruntime-node-bin/ node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/');
});

test('deploy/Dockerfile.jetson patches the Node binding to append TensorRT by device id (so ORT_TENSORRT_* apply) and checks the binding for it', async () => {
  const all = instructions('deploy/Dockerfile.jetson');
  const at = (match: (i: Instruction) => boolean) => all.findIndex(match);
  const patch = 'deploy/onnxruntime-node-tensorrt-env.patch';
  const copied = at((i) => i.keyword === 'COPY' && i.args === `${patch} /opt/`);
  const applied = at((i) => i.keyword === 'RUN' && i.args === 'git apply /opt/onnxruntime-node-tensorrt-env.patch');
  const built = at((i) => i.keyword === 'RUN' && i.args.startsWith('./build.sh'));
  const checked = at(
    (i) => i.keyword === 'RUN' && i.args.includes('nm -D --undefined-only') && i.args.includes('OrtSessionOptionsAppendExecutionProvider_Tensorrt'),
  );
  assert.ok(
    copied >= 0 && applied > copied && built > applied && checked > built,
    'COPY the patch, git apply, build.sh, then the binding check, in that order',
  );

  // the patch replaces the options-struct append in the binding's tensorrt branch by the device-id entry point
  const text = readFileSync(path.join(REPO_ROOT, patch), 'utf8');
  assert.match(text, /^--- a\/js\/node\/src\/session_options_helper\.cc$/m);
  const removed = text.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  const added = text.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
  assert.ok(
    removed.some((l) => l.includes('AppendExecutionProvider_TensorRT_V2(*options)')),
    'removes the options-struct append',
  );
  assert.ok(
    added.some((l) => l.includes('OrtSessionOptionsAppendExecutionProvider_Tensorrt(sessionOptions, deviceId)')),
    'appends by device id',
  );

  // that entry point is exported by the pinned onnxruntime (the npm package's linux/x64 library is built with TensorRT)
  const lib = path.join(REPO_ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1');
  if (process.arch !== 'x64' || !existsSync(lib)) return;
  const symbols = await new Promise<string>((resolve, reject) =>
    execFile('nm', ['-D', '--defined-only', lib], { maxBuffer: 64 * 2 ** 20 }, (e, out) => (e ? reject(e) : resolve(out))),
  );
  assert.match(symbols, new RegExp(`\\bOrtSessionOptionsAppendExecutionProvider_Tensorrt@@VERS_${lockedOnnxruntimeVersion().replaceAll('.', '\\.')}\\b`));
});

function runCheck(version: string, dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(path.join(REPO_ROOT, 'deploy/check-gpu-runtime.sh'), [version, dir], { cwd: REPO_ROOT }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

test('the GPU runtime check refuses another onnxruntime version and a binding folder without the providers', async () => {
  const locked = lockedOnnxruntimeVersion();
  const wrong = await runCheck('1.0.0', os.tmpdir());
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr.trim(), `onnxruntime-node is ${locked}, the image was built for 1.0.0: the binding and its JavaScript must be one release`);

  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-no-providers-'));
  try {
    const bare = await runCheck(locked, empty);
    assert.equal(bare.code, 1);
    const lines = bare.stderr.trim().split('\n');
    // on linux/x64 the npm binding names tensorrt and cuda, so the check reaches the libraries;
    // an arm64 CPU binding is refused one step earlier, for lacking them
    if (process.arch === 'x64') {
      assert.deepEqual(
        lines,
        ['shared', 'cuda', 'tensorrt'].map((p) => `${empty}/libonnxruntime_providers_${p}.so is missing: onnxruntime cannot load that execution provider`),
      );
    } else assert.match(lines[0], /the onnxruntime-node binding lacks tensorrt and cuda/);
  } finally {
    await fs.rm(empty, { recursive: true, force: true });
  }
});

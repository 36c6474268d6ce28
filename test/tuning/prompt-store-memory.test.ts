// Prompt sets with a memory bank in the prompt store: the sidecar is written atomically before
// its set, verified by sha256 whenever a set is loaded or activated (a corrupt sidecar is refused
// with a message naming it and the previous set stays current), rolled back and pruned with its
// set, and refused when it belongs to another set or bundle.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type MemoryBank, normaliseRows } from '../../tuning/memory-bank.ts';
import { encodeMemoryBank, memoryFileName, readMemoryBank, sha256Of } from '../../tuning/memory-bank-file.ts';
import type { PromptSet } from '../../tuning/prompt-set.ts';
import { PromptStore } from '../../tuning/prompt-store.ts';
import { createRng } from '../../tuning/rng.ts';
import { REPO_ROOT } from '../support/paths.ts';

const BUNDLE = { id: 'tiny', sha256: 'ab'.repeat(32) };
const E = 8;

/** Unit rows, as tuning builds banks. */
function randomBank(seed: number): MemoryBank {
  const rng = createRng(seed);
  const layers = [5, 3].map((m) => Float32Array.from({ length: m * E }, () => rng.normal()));
  for (const layer of layers) normaliseRows(layer, E);
  return { embedDim: E, layers };
}

/** A set with a memory bank, and the sidecar's bytes. */
function setWithMemory(id: string, minute: number, bank: MemoryBank, bundle = BUNDLE): { set: PromptSet; bytes: Buffer } {
  const bytes = encodeMemoryBank(bank, id, bundle.sha256, [2, 4]);
  const set: PromptSet = {
    id,
    created: new Date(Date.UTC(2025, 0, 1, 12, minute)).toISOString(),
    status: 'accepted',
    reasons: [],
    bundle,
    tokens: { shared: [[0.5, -0.25]], normal: [[1, 2]], anomalous: [[3, 4]] },
    text_embeds: [
      [minute, 1, 0],
      [0, 1, minute],
    ],
    calibration: { min: 0.1, max: 0.9, threshold: 0.7, targetFpr: 0.005 },
    memory: {
      file: memoryFileName(id),
      sha256: sha256Of(bytes),
      layers: [2, 4],
      patches: [5, 3],
      max_patches: 20000,
      coreset: false,
      calibration: { min: 0, max: 0.4, threshold: 0.6, targetFpr: 0.005 },
    },
    metrics: {},
    config: {},
    data: {},
  };
  return { set, bytes };
}

async function tempStore(keep = 5): Promise<PromptStore> {
  return new PromptStore(await mkdtemp(path.join(tmpdir(), 'lw-memory-store-')), { keep });
}

const same = (a: MemoryBank | null, b: MemoryBank) =>
  assert.deepEqual(
    a?.layers.map((l) => Array.from(l)),
    b.layers.map((l) => Array.from(l)),
  );

async function flipByte(file: string, at: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[at] ^= 0xff;
  await writeFile(file, bytes);
}

test('a committed set with memory loads back with its exact bank, from a sidecar beside it', async () => {
  const store = await tempStore();
  try {
    const bank = randomBank(1);
    const { set, bytes } = setWithMemory('a', 1, bank);
    assert.ok((await store.commit(set, bytes)).ok);
    assert.deepEqual((await readdir(store.dir)).sort(), ['a.json', 'a.memory.safetensors', 'current']);
    const loaded = await store.loadCurrent();
    assert.ok(loaded.ok);
    assert.equal(loaded.value.warning, undefined);
    same(loaded.value.memory, bank);
    // the header states the shapes; the data are little-endian float32
    const header = JSON.parse((await readFile(path.join(store.dir, 'a.memory.safetensors'))).subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
    assert.deepEqual([header.layer_2.shape, header.layer_2.dtype, header.layer_4.shape], [[5, E], 'F32', [3, E]]);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('bytes that do not match the memory entry are refused before anything is written', async () => {
  const store = await tempStore();
  try {
    const { set } = setWithMemory('a', 1, randomBank(1));
    const other = setWithMemory('a', 1, randomBank(2)).bytes;
    await assert.rejects(store.commit(set, other), /memory bank's bytes do not match/);
    assert.deepEqual(await readdir(store.dir), []);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('a corrupt sidecar is refused with its name and the previous set stays current', async () => {
  const store = await tempStore();
  try {
    const old = setWithMemory('old', 1, randomBank(1));
    const next = setWithMemory('new', 2, randomBank(2));
    await store.commit(old.set, old.bytes);
    await store.commit(next.set, next.bytes);
    const sidecar = path.join(store.dir, 'new.memory.safetensors');
    await flipByte(sidecar, next.bytes.length - 3);
    const loaded = await store.loadCurrent();
    assert.ok(loaded.ok);
    assert.equal(loaded.value.set.id, 'old');
    same(loaded.value.memory, randomBank(1));
    assert.ok(loaded.value.warning?.includes(`memory bank ${sidecar} is corrupt or was modified`), loaded.value.warning);
    const refused = await store.activate('new');
    assert.match(refused.ok ? '' : refused.error, /new\.memory\.safetensors is corrupt or was modified/);
    // a missing sidecar likewise
    await rm(sidecar);
    const missing = await store.activate('new');
    assert.match(missing.ok ? '' : missing.error, /memory bank .*new\.memory\.safetensors of prompt set new is missing/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('rollback returns to the previous set with its own bank; pruning removes banks with their sets', async () => {
  const store = await tempStore(2);
  try {
    for (const [i, id] of ['a', 'b'].entries()) {
      const s = setWithMemory(id, i + 1, randomBank(i + 1));
      await store.commit(s.set, s.bytes);
    }
    const rolled = await store.rollback();
    assert.ok(rolled.ok);
    const loaded = await store.loadCurrent();
    assert.ok(loaded.ok);
    assert.equal(loaded.value.set.id, 'a');
    same(loaded.value.memory, randomBank(1));
    // b is now rejected and keeps its bank; two newer accepted sets prune a (no longer current)
    for (const [i, id] of ['c', 'd'].entries()) {
      const s = setWithMemory(id, i + 3, randomBank(i + 3));
      await store.commit(s.set, s.bytes);
    }
    assert.deepEqual((await readdir(store.dir)).sort(), [
      'b.json',
      'b.memory.safetensors',
      'c.json',
      'c.memory.safetensors',
      'current',
      'd.json',
      'd.memory.safetensors',
    ]);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('a bank is refused for another set or another bundle', async () => {
  const store = await tempStore();
  try {
    const a = setWithMemory('a', 1, randomBank(1));
    await store.commit(a.set, a.bytes);
    const file = path.join(store.dir, 'a.memory.safetensors');
    // a set that names a's sidecar (with its true sha256) but is another set
    const forB = { ...a.set, id: 'b' };
    assert.match(((r) => (r.ok ? '' : r.error))(await readMemoryBank(file, forB)), /belongs to prompt set 'a', not to b/);
    // a set of the same id for another bundle that names a bank built for the first one
    const otherBundle = { ...a.set, bundle: { id: 'big', sha256: 'cd'.repeat(32) } };
    assert.match(((r) => (r.ok ? '' : r.error))(await readMemoryBank(file, otherBundle)), /was built for another bundle/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('a bank whose rows are not unit vectors is refused on load, naming the file, the tensor and the row', async () => {
  const store = await tempStore();
  try {
    const good = setWithMemory('good', 1, randomBank(1));
    await store.commit(good.set, good.bytes);
    // checksum-consistent, but row 2 of the second layer is twice its unit length: memory.onnx
    // takes the bank as it is, so it would score wrongly rather than fail
    const bank = randomBank(2);
    for (let e = 0; e < E; e++) bank.layers[1][2 * E + e] *= 2;
    const scaled = setWithMemory('scaled', 2, bank);
    await store.write(scaled.set, scaled.bytes);
    const refused = await store.activate('scaled');
    assert.match(refused.ok ? '' : refused.error, /memory bank .*scaled\.memory\.safetensors: row 2 of tensor layer_4 has length 2\.000, not 1/);
    const loaded = await store.loadCurrent();
    assert.ok(loaded.ok && loaded.value.set.id === 'good');
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('a crash after the bank and set are written but before the swap leaves the previous set and bank current; an orphan bank is pruned', async () => {
  const store = await tempStore();
  try {
    const old = setWithMemory('old', 1, randomBank(1));
    await store.commit(old.set, old.bytes);
    const next = setWithMemory('new', 2, randomBank(2));
    const child = path.join(store.dir, '..', `${path.basename(store.dir)}-child.mts`);
    await writeFile(
      child,
      `import { PromptStore } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'tuning/prompt-store.ts')).href)};
const set = JSON.parse(process.argv[2]);
await new PromptStore(process.argv[3]).write(set, Buffer.from(process.argv[4], 'base64'));
process.kill(process.pid, 'SIGKILL');
`,
    );
    const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(next.set), store.dir, next.bytes.toString('base64')], {
        cwd: REPO_ROOT,
        stdio: 'inherit',
      });
      p.on('error', reject);
      p.on('exit', (_code, sig) => resolve(sig));
    });
    await rm(child);
    assert.equal(signal, 'SIGKILL');
    assert.ok((await readdir(store.dir)).includes('new.memory.safetensors'));
    const loaded = await store.loadCurrent();
    assert.ok(loaded.ok);
    assert.equal(loaded.value.set.id, 'old');
    same(loaded.value.memory, randomBank(1));
    // a bank whose set never got written (crash between the two), over a minute old
    const orphan = path.join(store.dir, 'gone.memory.safetensors');
    await writeFile(orphan, old.bytes);
    await utimes(orphan, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    assert.ok((await store.prune()).includes(orphan));
    assert.ok((await readdir(store.dir)).includes('old.memory.safetensors'));
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

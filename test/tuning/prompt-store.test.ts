import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadActivePrompts, ZERO_SHOT_ID } from '../../agent/model/active-prompts.ts';
import { type PromptSet, textEmbedRows, textEmbedsOf, tokenRows, validatePromptSet } from '../../tuning/prompt-set.ts';
import { PromptStore } from '../../tuning/prompt-store.ts';
import { REPO_ROOT } from '../support/paths.ts';

function makeSet(id: string, minute: number, status: PromptSet['status'] = 'accepted'): PromptSet {
  return {
    id,
    created: new Date(Date.UTC(2025, 0, 1, 12, minute)).toISOString(),
    status,
    reasons: status === 'rejected' ? ['synthetic AUROC too low'] : [],
    bundle: { id: 'tiny', sha256: 'ab'.repeat(32) },
    tokens: { shared: [[0.5, -0.25]], normal: [[1, 2]], anomalous: [[3, 4]] },
    text_embeds: [
      [minute, 1, 0],
      [0, 1, minute],
    ],
    calibration: { min: 0.1, max: 0.9, threshold: 0.7, targetFpr: 0.005 },
    metrics: { syntheticAuroc: 0.9, normalFpr: 0 },
    config: { steps: 300, seed: minute },
    data: { normals: 16 },
  };
}

async function tempStore(keep = 5): Promise<PromptStore> {
  return new PromptStore(await mkdtemp(path.join(tmpdir(), 'lw-prompts-')), { keep });
}

async function currentId(store: PromptStore): Promise<string> {
  const r = await store.loadCurrent();
  if (!r.ok) assert.fail(r.error);
  assert.equal(r.value.warning, undefined);
  return r.value.set.id;
}

test('committing accepted sets swaps current; rejected sets are kept but never current', async () => {
  const store = await tempStore();
  try {
    const empty = await store.loadCurrent();
    assert.match(empty.ok ? '' : empty.error, /current does not exist, and .* holds no valid accepted prompt set/);
    await store.commit(makeSet('a', 1));
    assert.equal(await currentId(store), 'a');
    assert.equal(await readFile(path.join(store.dir, 'current'), 'utf8'), 'a\n');
    await store.commit(makeSet('b', 2));
    assert.equal(await currentId(store), 'b');
    const rejected = await store.commit(makeSet('c', 3, 'rejected'));
    assert.deepEqual(rejected.ok && rejected.value.current, false);
    assert.equal(await currentId(store), 'b');
    const refused = await store.activate('c');
    assert.match(refused.ok ? '' : refused.error, /c\.json was rejected \(synthetic AUROC too low\)/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('pruning keeps the newest K sets of each status and always the current one', async () => {
  const store = await tempStore(2);
  try {
    for (let i = 1; i <= 4; i++) await store.commit(makeSet(`acc${i}`, i));
    for (let i = 5; i <= 7; i++) await store.commit(makeSet(`rej${i}`, i, 'rejected'));
    assert.deepEqual((await readdir(store.dir)).sort(), ['acc3.json', 'acc4.json', 'current', 'rej6.json', 'rej7.json']);
    // Roll back to acc3 (acc4 becomes rejected), then commit two newer accepted sets: acc3 is no
    // longer current and is pruned as the oldest accepted; acc4 as the oldest rejected.
    assert.ok((await store.rollback()).ok);
    await store.commit(makeSet('acc8', 8));
    assert.deepEqual(
      (await store.list()).map((e) => e.id),
      ['acc3', 'rej6', 'rej7', 'acc8'],
    );
    await store.commit(makeSet('acc9', 9));
    assert.deepEqual(
      (await store.list()).map((e) => e.id),
      ['rej6', 'rej7', 'acc8', 'acc9'],
    );
    // An operator makes an older set current by hand; pruning never deletes it.
    await store.write(makeSet('acc0', 0));
    assert.ok((await store.activate('acc0')).ok);
    await store.commit(makeSet('rej10', 10, 'rejected'));
    assert.deepEqual(
      (await store.list()).map((e) => e.id),
      ['acc0', 'rej7', 'acc8', 'acc9', 'rej10'],
    );
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('rollback goes to the previous accepted set and retires the one it leaves', async () => {
  const store = await tempStore();
  try {
    await store.commit(makeSet('a', 1));
    await store.commit(makeSet('r', 2, 'rejected'));
    await store.commit(makeSet('b', 3));
    await store.commit(makeSet('c', 4));
    const back = await store.rollback(new Date(Date.UTC(2025, 1, 1)));
    assert.equal(back.ok && back.value.id, 'b');
    assert.equal(await currentId(store), 'b');
    const retired = JSON.parse(await readFile(store.pathOf('c'), 'utf8')) as PromptSet;
    assert.equal(retired.status, 'rejected');
    assert.deepEqual(retired.reasons, ['rolled back to b at 2025-02-01T00:00:00.000Z']);
    assert.equal((await store.rollback()).ok && (await currentId(store)), 'a'); // skips the rejected 'r'
    const none = await store.rollback();
    assert.match(none.ok ? '' : none.error, /no accepted prompt set older than a/);
    assert.equal(await currentId(store), 'a');
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('a crash between writing a set and swapping current leaves the previous set current', async () => {
  const store = await tempStore();
  try {
    await store.commit(makeSet('old', 1));
    // A child process writes the new set the way commit() does, then is killed before the swap.
    const child = path.join(store.dir, '..', `${path.basename(store.dir)}-child.mts`);
    await writeFile(
      child,
      `import { PromptStore } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'tuning/prompt-store.ts')).href)};
const set = JSON.parse(process.argv[2]);
await new PromptStore(process.argv[3]).write(set);
process.kill(process.pid, 'SIGKILL');
await new PromptStore(process.argv[3]).activate(set.id); // never reached
`,
    );
    const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(makeSet('new', 2)), store.dir], { cwd: REPO_ROOT, stdio: 'inherit' });
      p.on('error', reject);
      p.on('exit', (_code, sig) => resolve(sig));
    });
    await rm(child);
    assert.equal(signal, 'SIGKILL');
    assert.ok((await readdir(store.dir)).includes('new.json'), 'the child got as far as writing the set');
    assert.equal(await currentId(store), 'old');
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('a corrupt current file falls back to the newest valid accepted set, with a warning', async () => {
  const store = await tempStore();
  try {
    await store.commit(makeSet('a', 1));
    await store.commit(makeSet('b', 2));
    await store.commit(makeSet('x', 3, 'rejected'));
    // A newer set whose file is damaged: it must be skipped.
    await writeFile(store.pathOf('c'), JSON.stringify({ ...makeSet('c', 4), text_embeds: [[1, 2]] }));
    await writeFile(path.join(store.dir, 'current'), '\u0000\u0000garbage');
    const r = await store.loadCurrent();
    assert.ok(r.ok);
    assert.equal(r.value.set.id, 'b');
    assert.match(r.value.warning ?? '', /current does not name a prompt set .*using the newest valid accepted set b/);

    await writeFile(path.join(store.dir, 'current'), 'c\n');
    const named = await store.loadCurrent();
    assert.ok(named.ok);
    assert.equal(named.value.set.id, 'b');
    assert.match(named.value.warning ?? '', /c\.json: key 'text_embeds' must be 2 rows/);

    await rm(path.join(store.dir, 'current'));
    const missing = await store.loadCurrent();
    assert.match(missing.ok ? (missing.value.warning ?? '') : '', /current does not exist/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('validation names the file and the bad key', () => {
  const file = '/data/prompts/a.json';
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ bundle: { id: 'x', sha256: 'nothex' } }, /a\.json: key 'bundle\.sha256'/],
    [{ tokens: { shared: [], normal: [[1, 2]], anomalous: [[1]] } }, /key 'tokens.anomalous' has a token of width 1, others have 2/],
    [{ tokens: { shared: [], normal: [[1, 2]], anomalous: [] } }, /key 'tokens' needs as many normal as anomalous/],
    [{ calibration: { min: 1, max: 1, threshold: 0.5, targetFpr: 0.005 } }, /key 'calibration'/],
    [{ status: 'maybe' }, /key 'status'/],
    [{ created: 'yesterday' }, /key 'created'/],
    [{ metrics: { auroc: 'high' } }, /key 'metrics\.auroc' must be number \(found "high"\)/],
    [{ id: '../escape' }, /key 'id'/],
  ];
  for (const [patch, pattern] of cases) {
    const r = validatePromptSet({ ...makeSet('a', 1), ...patch }, file);
    assert.match(r.ok ? 'accepted' : r.error, pattern);
  }
  assert.ok(validatePromptSet(makeSet('a', 1), file).ok);
});

test('token rows and text embeddings survive JSON exactly as float32', async () => {
  const params = new Float32Array([0.1, -0.2, 1 / 3, 4e-5, 7, -8, 9.5, 10.25]);
  const rows = tokenRows({ layout: { shared: 2, state: 1, width: 2 }, sot: new Float32Array(2), eot: new Float32Array(2), params });
  assert.deepEqual(rows, {
    shared: [
      [params[0], params[1]],
      [params[2], params[3]],
    ],
    normal: [[7, -8]],
    anomalous: [[9.5, 10.25]],
  });
  const text = new Float32Array([0.1, 0.2, 0.3, -0.1, -0.2, -0.3]);
  const set = { ...makeSet('t', 1), tokens: rows, text_embeds: textEmbedRows(text) };
  const back = JSON.parse(JSON.stringify(set)) as PromptSet;
  assert.deepEqual(textEmbedsOf(back), text);
});

/** A Logger that keeps what it was told, by level (the agent's logger writes to stderr). */
function recordingLog() {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** The meta prompts' embeddings as the bundle's text model would give them; only their identity matters here. */
const META_EMBEDS = new Float32Array([9, 9, 9, 8, 8, 8]);

async function activeFrom(store: PromptStore) {
  const { lines, log } = recordingLog();
  const active = await loadActivePrompts({ store, bundle: makeSet('any', 0).bundle, scorers: ['prompt'], metaTextEmbeds: async () => META_EMBEDS, log });
  return { active, lines };
}

test('every set on disk corrupt: zero-shot, with a warning naming each corrupt file and why', async () => {
  const store = await tempStore();
  try {
    await store.commit(makeSet('a', 1));
    await store.commit(makeSet('b', 2));
    await writeFile(store.pathOf('a'), '{"id": "a", ');
    await writeFile(store.pathOf('b'), JSON.stringify({ ...makeSet('b', 2), text_embeds: [[1, 2]] }));
    const loaded = await store.loadCurrent();
    assert.ok(!loaded.ok);
    assert.match(loaded.error, /a\.json: not valid JSON/);
    assert.match(loaded.error, /b\.json: key 'text_embeds' must be 2 rows/);

    const { active, lines } = await activeFrom(store);
    assert.equal(active.id, ZERO_SHOT_ID);
    assert.equal(active.scorers.prompt.feeds.text_embeds.data, META_EMBEDS);
    const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(warnings[0], /a\.json: not valid JSON.*b\.json: key 'text_embeds' must be 2 rows|b\.json.*a\.json/);
    assert.match(warnings[0], /scoring with the zero-shot meta prompts/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('corrupt newer sets: the newest valid set is used, with a warning naming each corrupt file', async () => {
  const store = await tempStore();
  try {
    await store.commit(makeSet('a', 1));
    await store.commit(makeSet('b', 2));
    await store.commit(makeSet('c', 3));
    await writeFile(store.pathOf('b'), 'garbage');
    await writeFile(store.pathOf('c'), JSON.stringify({ ...makeSet('c', 3), calibration: null }));
    const { active, lines } = await activeFrom(store);
    assert.equal(active.id, 'a');
    assert.equal(active.tuned, true);
    const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(warnings[0], /c\.json/);
    assert.match(warnings[0], /corrupt prompt set files skipped: .*b\.json: not valid JSON/);
    assert.match(warnings[0], /using the newest valid accepted set a/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

test('an empty store (before the first tuning): zero-shot without a warning', async () => {
  const store = await tempStore();
  try {
    const { active, lines } = await activeFrom(store);
    assert.equal(active.id, ZERO_SHOT_ID);
    assert.deepEqual(
      lines.filter((l) => l.level === 'warn'),
      [],
    );
    assert.match(lines.find((l) => l.level === 'info')?.msg ?? '', /no prompt set yet .*zero-shot/);
  } finally {
    await rm(store.dir, { recursive: true });
  }
});

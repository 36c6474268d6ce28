// Prompt-set files as the store and `eval --prompts` read them (readPromptSetFile): every problem
// named by its key path in one message that names the file; keys outside the schema refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type PromptSet, readPromptSetFile } from '../../tuning/prompt-set.ts';

const SET: PromptSet = {
  id: 'a',
  created: '2025-01-01T12:00:00.000Z',
  status: 'accepted',
  reasons: [],
  bundle: { id: 'tiny', sha256: 'ab'.repeat(32) },
  tokens: { shared: [[0.5, -0.25]], normal: [[1, 2]], anomalous: [[3, 4]] },
  text_embeds: [
    [1, 0],
    [0, 1],
  ],
  calibration: { min: 0.1, max: 0.9, threshold: 0.7, targetFpr: 0.005 },
  metrics: { syntheticAuroc: 0.9 },
  config: { steps: 300 },
  data: { normals: 16 },
};

async function readWritten(text: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'lw-prompt-set-'));
  try {
    const file = path.join(dir, 'a.json');
    await writeFile(file, text);
    return { file, read: await readPromptSetFile(file) };
  } finally {
    await rm(dir, { recursive: true });
  }
}

test('a prompt-set file with bad values names the file and each key path, with what was found', async () => {
  const { file, read } = await readWritten(
    JSON.stringify({ ...SET, tokens: { ...SET.tokens, normal: [[1, 'x']] }, calibration: { min: 0.1, max: 0.9, threshold: 0.7 }, status: 'maybe' }),
  );
  assert.deepEqual(read, {
    ok: false,
    error:
      `${file}: key 'status' must be one of accepted, rejected (found "maybe"); ` +
      `key 'tokens.normal[0][1]' must be number (found "x"); key 'calibration.targetFpr' is required`,
  });
});

test('a __proto__ key in a prompt-set file is refused, and nothing is polluted', async () => {
  const { file, read } = await readWritten(`{"__proto__": {"polluted": true}, ${JSON.stringify(SET).slice(1)}`);
  assert.deepEqual(read, { ok: false, error: `${file}: key '__proto__' is not a known key` });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const { read: good } = await readWritten(JSON.stringify(SET));
  assert.deepEqual(good, { ok: true, value: SET });
});

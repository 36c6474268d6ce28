import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ClipTokenizer, cleanText } from '../../models/tokenizer.ts';
import { FIXTURES } from '../support/paths.ts';

// Ids produced by the canonical openai/CLIP tokenizer (shared/fixtures/clip-bpe).
const reference = JSON.parse(readFileSync(path.join(FIXTURES, 'clip-bpe/tokenizer-reference.json'), 'utf8')) as {
  sot: number;
  eot: number;
  vocab_size: number;
  cases: { text: string; ids: number[] }[];
};

const tokenizer = ClipTokenizer.load();

test('special tokens and vocabulary size match CLIP', () => {
  assert.equal(tokenizer.sot, reference.sot);
  assert.equal(tokenizer.eot, reference.eot);
  assert.equal(tokenizer.vocabSize, reference.vocab_size);
});

for (const { text, ids } of reference.cases) {
  test(`encodes ${JSON.stringify(text)} like the reference`, () => {
    assert.deepEqual(tokenizer.encode(text), ids);
  });
}

test('encoding twice (through the BPE cache) gives the same ids', () => {
  const text = reference.cases[7].text;
  assert.deepEqual(tokenizer.encode(text), tokenizer.encode(text));
  assert.deepEqual(tokenizer.encode(text), reference.cases[7].ids);
});

test('text cleaning: entities, whitespace, case, typographic quotes, full-width forms', () => {
  assert.equal(cleanText('  A&amp;amp;B \t\n C&#39;s &lt;x&gt;  '), "a&b c's <x>");
  assert.equal(cleanText('\u2018it\u2019s\u2019 \u201cok\u201d'), `'it's' "ok"`);
  assert.equal(cleanText('\uff21\uff22\uff43 \ufb01ne'), 'abc fine');
  // Decomposed e + combining acute becomes the composed letter, as ftfy's NFC does.
  assert.equal(cleanText('cafe\u0301'), 'caf\u00e9');
});

test('a curly apostrophe tokenises like the straight one', () => {
  assert.deepEqual(tokenizer.encode('it\u2019s a bottle, isn\u2019t it?'), reference.cases[3].ids);
});

test('a file that is not a CLIP merges list is rejected with its name', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpe-'));
  try {
    const bad = path.join(dir, 'bad.txt.gz');
    writeFileSync(bad, gzipSync('#version: 0.2\ni n\n'));
    assert.throws(() => ClipTokenizer.load(bad), /bad\.txt\.gz holds 1 merges/);
    assert.throws(() => ClipTokenizer.load(path.join(dir, 'missing.gz')), /cannot read the CLIP BPE vocabulary .*missing\.gz/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a smaller vocabulary keeps CLIP's first merges, so every id fits the model's table", () => {
  const small = ClipTokenizer.load(undefined, 1000);
  assert.deepEqual([small.vocabSize, small.sot, small.eot], [1000, 998, 999]);
  const ids = small.encodeWords('a photo of a flawless bottle with a scratch');
  assert.ok(ids.length > tokenizer.encodeWords('a photo of a flawless bottle with a scratch').length, 'rarer words split into more pieces');
  assert.ok(
    ids.every((id) => id < 998),
    `ids ${ids}`,
  );
  // Merges ranked within the first 486 are the same tokens as in the full vocabulary.
  assert.deepEqual(small.encodeWords('a'), tokenizer.encodeWords('a'));
  assert.throws(() => ClipTokenizer.load(undefined, 100), /100 tokens cannot hold CLIP's 514/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMetaPrompts } from '../../tuning/meta-prompts.ts';
import { assemblePrompts, gatherPromptGrad, initPromptTokens, type PromptTokens, promptEotIndex } from '../../tuning/prompt-learner.ts';
import { createRng } from '../../tuning/rng.ts';
import { TinyTextEncoderDouble, tinyVocabulary } from '../support/tiny-text-encoder.ts';

// Layout n = 2 shared, m = 1 state token, W = 2: S = 5. Distinct values make positions visible.
const layout = { shared: 2, state: 1, width: 2 };
const tokens: PromptTokens = {
  layout,
  sot: new Float32Array([-1, -1]),
  eot: new Float32Array([-9, -9]),
  params: new Float32Array([1, 1, 2, 2, 3, 3, 4, 4]), // V1 V2 N1 A1
};

test('prompts are [SOS] V N [EOT] and [SOS] V A [EOT]', () => {
  assert.deepEqual(Array.from(assemblePrompts(tokens)), [-1, -1, 1, 1, 2, 2, 3, 3, -9, -9, -1, -1, 1, 1, 2, 2, 4, 4, -9, -9]);
  const twice = assemblePrompts(tokens, 2);
  assert.equal(twice.length, 4 * 5 * 2);
  assert.deepEqual(Array.from(twice.subarray(20)), Array.from(twice.subarray(0, 20)));
  assert.deepEqual(Array.from(promptEotIndex(layout, 2)), [4n, 4n, 4n, 4n]);
});

test('prompt gradients scatter back: V sums both rows, N the normal row, A the anomalous row', () => {
  // prompt_grad [4,5,2] with value 100*row + 10*position + channel.
  const grad = Float32Array.from({ length: 40 }, (_, i) => 100 * Math.floor(i / 10) + 10 * Math.floor((i % 10) / 2) + (i % 2));
  // Pair 0: V1 = (10+110, 11+111), V2 = (20+120, 21+121), N1 = (30, 31), A1 = (130, 131).
  assert.deepEqual(Array.from(gatherPromptGrad(layout, grad, 0)), [120, 122, 140, 142, 30, 31, 130, 131]);
  // Pair 1 reads rows 2 and 3.
  assert.deepEqual(Array.from(gatherPromptGrad(layout, grad, 1)), [520, 522, 540, 542, 230, 231, 330, 331]);
  assert.throws(() => gatherPromptGrad(layout, grad, 2), /too few/);
});

test('initialisation: random with std 0.02, or from the embeddings of generic words', () => {
  const vocab = tinyVocabulary(16);
  const big = { shared: 40, state: 30, width: 16 };
  const random = initPromptTokens(big, vocab, { kind: 'random' }, createRng(1));
  const n = random.params.length;
  const mean = random.params.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(random.params.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
  assert.deepEqual(random.sot, vocab.tokenEmbedding(vocab.sot));

  const words = initPromptTokens({ shared: 5, state: 2, width: 16 }, vocab, { kind: 'words', shared: 'a photo of a', anomalous: 'damaged' }, createRng(1));
  const [a, photo, of] = vocab.encodeWords('a photo of');
  const slot = (k: number) => Array.from(words.params.subarray(k * 16, (k + 1) * 16));
  assert.deepEqual(slot(0), Array.from(vocab.tokenEmbedding(a)));
  assert.deepEqual(slot(1), Array.from(vocab.tokenEmbedding(photo)));
  assert.deepEqual(slot(2), Array.from(vocab.tokenEmbedding(of)));
  assert.deepEqual(slot(3), Array.from(vocab.tokenEmbedding(a)));
  assert.ok(
    slot(4).every((v) => Math.abs(v) < 0.2),
    'the fifth shared slot has no word and stays random',
  );
  assert.deepEqual(slot(7), Array.from(vocab.tokenEmbedding(vocab.encodeWords('damaged')[0])));
});

test('the text encoder double has an exact reverse pass (finite differences)', async () => {
  const enc = new TinyTextEncoderDouble(3, 4, 2, 6, 5);
  const rng = createRng(2);
  const x = Float32Array.from({ length: 2 * 4 * 3 }, () => rng.normal());
  const eot = new BigInt64Array([3n, 2n]);
  const up = new Float32Array([0.3, -1, 2, 0.5]);
  const grad = await enc.vjp(x, 2, 4, eot, up);
  const objective = async (v: Float32Array) => (await enc.encode(v, 2, 4, eot)).reduce((s, t, i) => s + t * up[i], 0);
  for (let i = 0; i < x.length; i++) {
    const h = 1e-2;
    const plus = new Float32Array(x);
    const minus = new Float32Array(x);
    plus[i] += h;
    minus[i] -= h;
    const fd = ((await objective(plus)) - (await objective(minus))) / (2 * h);
    assert.ok(Math.abs(fd - grad[i]) < 2e-3 * Math.max(1, Math.abs(fd)), `x[${i}]: fd ${fd}, vjp ${grad[i]}`);
  }
  assert.equal(grad[(1 * 4 + 3) * 3], 0, 'tokens after EOT get no gradient');
});

test('meta prompts are encoded in one batch, normalised and averaged per state', async () => {
  const vocab = tinyVocabulary(4);
  const enc = new TinyTextEncoderDouble(4, 5, 3, 12, 1);
  const templates = { normal: ['a flawless object', 'a normal thing here'], anomalous: ['a damaged object'] };
  const meta = await encodeMetaPrompts(enc, vocab, templates);
  assert.deepEqual(enc.calls, [{ kind: 'encode', P: 3, S: 6 }]);
  // Independently: encode each template alone (no padding) and average the unit vectors.
  const single = async (text: string) => {
    const ids = [vocab.sot, ...vocab.encodeWords(text), vocab.eot];
    const x = new Float32Array(ids.length * 4);
    ids.forEach((id, s) => x.set(vocab.tokenEmbedding(id), s * 4));
    const t = await enc.encode(x, 1, ids.length, new BigInt64Array([BigInt(ids.length - 1)]));
    const norm = Math.hypot(...t);
    return Array.from(t, (v) => v / norm);
  };
  const [n1, n2, a1] = [await single(templates.normal[0]), await single(templates.normal[1]), await single(templates.anomalous[0])];
  for (let e = 0; e < 3; e++) {
    assert.ok(Math.abs(meta[e] - (n1[e] + n2[e]) / 2) < 1e-6, `normal ${e}`);
    assert.ok(Math.abs(meta[3 + e] - a1[e]) < 1e-6, `anomalous ${e}`);
  }
  await assert.rejects(encodeMetaPrompts(enc, vocab, { normal: ['x'], anomalous: [] }), /at least one/);
  await assert.rejects(encodeMetaPrompts(enc, vocab, { normal: ['a b c d'], anomalous: ['a'] }, 4), /6 tokens; .* at most 4/);
});

// text.onnx and text_vjp.onnx against the canonical reference, finite differences and truncation.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildTextGraph } from '../../../models/graphs/text.ts';
import { buildTextVjpGraph } from '../../../models/graphs/text-vjp.ts';
import { ExternalWeights, GraphBuilder } from '../../../models/onnx/graph-builder.ts';
import { writeRandomClip } from '../../../models/weights/random-weights.ts';
import { readClipWeights } from '../../../models/weights/read-weights.ts';
import { readSafetensors, tensorF32, tensorI64 } from '../../../models/weights/safetensors.ts';
import { TINY_CLIP } from '../../support/paths.ts';

const FIXTURE = TINY_CLIP;

interface TextSessions {
  text: ort.InferenceSession;
  vjp: ort.InferenceSession;
  width: number;
}

async function buildTextSessions(weightsDir: string): Promise<TextSessions> {
  const w = await readClipWeights(weightsDir);
  assert.ok(w.ok, w.ok ? '' : w.error);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-text-'));
  const ext = new ExternalWeights('text.weights');
  const text = new GraphBuilder('text', ext);
  buildTextGraph(text, w.value);
  const vjp = new GraphBuilder('text_vjp', ext);
  buildTextVjpGraph(vjp, w.value);
  await fs.writeFile(path.join(dir, 'text.onnx'), text.encode());
  await fs.writeFile(path.join(dir, 'text_vjp.onnx'), vjp.encode());
  await ext.write(dir);
  return {
    text: await ort.InferenceSession.create(path.join(dir, 'text.onnx')),
    vjp: await ort.InferenceSession.create(path.join(dir, 'text_vjp.onnx')),
    width: w.value.text.width,
  };
}

async function encode(s: TextSessions, x: Float32Array, P: number, S: number, eot: BigInt64Array): Promise<Float32Array> {
  const out = await s.text.run({ prompt_embeds: new ort.Tensor('float32', x, [P, S, s.width]), eot_index: new ort.Tensor('int64', eot, [P]) });
  return out.text_embeds.data as Float32Array;
}

async function pullBack(s: TextSessions, x: Float32Array, P: number, S: number, eot: BigInt64Array, up: Float32Array): Promise<Float32Array> {
  const out = await s.vjp.run({
    prompt_embeds: new ort.Tensor('float32', x, [P, S, s.width]),
    eot_index: new ort.Tensor('int64', eot, [P]),
    upstream_grad: new ort.Tensor('float32', up, [P, up.length / P]),
  });
  return out.prompt_grad.data as Float32Array;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

for (const layout of ['openclip', 'hf'] as const) {
  test(`text graphs match the reference (${layout} layout)`, async () => {
    const s = await buildTextSessions(layout === 'hf' ? path.join(FIXTURE, 'hf') : FIXTURE);
    const ref = await readSafetensors(path.join(FIXTURE, 'reference.safetensors'));
    assert.ok(ref.ok);
    const x = tensorF32(ref.value, 'prompt_embeds');
    const eot = tensorI64(ref.value, 'eot_index');
    const embeds = await encode(s, x, 2, 77, eot);
    assert.ok(maxDiff(embeds, tensorF32(ref.value, 'prompt_text_embeds')) < 1e-5);
    const grad = await pullBack(s, x, 2, 77, eot, tensorF32(ref.value, 'upstream_grad'));
    const want = tensorF32(ref.value, 'prompt_grad');
    assert.ok(maxDiff(grad, want) / maxAbs(want) < 1e-4, `relative gradient error ${maxDiff(grad, want) / maxAbs(want)}`);
  });
}

test('text_vjp agrees with central finite differences on another model (GELU, other sizes)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-rand-'));
  await writeRandomClip(
    dir,
    {
      embedDim: 24,
      activation: 'gelu',
      vision: { imageSize: 32, patchSize: 16, width: 32, layers: 1, heads: 2 },
      text: { width: 48, layers: 2, heads: 3, vocabSize: 50, contextLength: 16 },
    },
    7,
  );
  const s = await buildTextSessions(dir);
  const P = 2,
    S = 9,
    W = 48;
  const eot = BigInt64Array.from([8n, 5n]);
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const x = Float32Array.from({ length: P * S * W }, () => rnd());
  const up = Float32Array.from({ length: P * 24 }, () => rnd());
  const grad = await pullBack(s, x, P, S, eot, up);
  const f = async (v: Float32Array) => (await encode(s, v, P, S, eot)).reduce((acc, e, i) => acc + e * up[i], 0);
  const h = 1e-2;
  for (let k = 0; k < 6; k++) {
    const dirn = Float32Array.from({ length: x.length }, () => rnd());
    const plus = x.map((v, i) => v + h * dirn[i]);
    const minus = x.map((v, i) => v - h * dirn[i]);
    const numeric = ((await f(plus)) - (await f(minus))) / (2 * h);
    const analytic = grad.reduce((acc, g, i) => acc + g * dirn[i], 0);
    assert.ok(Math.abs(numeric - analytic) <= 2e-3 * Math.max(1, Math.abs(analytic)), `direction ${k}: numeric ${numeric} vs analytic ${analytic}`);
  }
});

test('running only the first eot+1 positions gives the same embeddings and gradients', async () => {
  const s = await buildTextSessions(FIXTURE);
  const ref = await readSafetensors(path.join(FIXTURE, 'reference.safetensors'));
  assert.ok(ref.ok);
  const full = tensorF32(ref.value, 'prompt_embeds');
  const up = tensorF32(ref.value, 'upstream_grad');
  const eot = tensorI64(ref.value, 'eot_index');
  const fullGrad = await pullBack(s, full, 2, 77, eot, up);
  for (let p = 0; p < 2; p++) {
    const S = Number(eot[p]) + 1;
    const row = full.subarray(p * 77 * 128, p * 77 * 128 + S * 128);
    const one = BigInt64Array.from([eot[p]]);
    const embeds = await encode(s, row, 1, S, one);
    const want = tensorF32(ref.value, 'prompt_text_embeds').subarray(p * 64, (p + 1) * 64);
    assert.ok(maxDiff(embeds, want) < 1e-5);
    const grad = await pullBack(s, row, 1, S, one, up.subarray(p * 64, (p + 1) * 64));
    const fullRow = fullGrad.subarray(p * 77 * 128, (p + 1) * 77 * 128);
    assert.ok(maxDiff(grad, fullRow.subarray(0, S * 128)) / maxAbs(fullRow) < 1e-4);
    assert.equal(maxAbs(fullRow.subarray(S * 128)), 0, 'rows after the end-of-text position have zero gradient');
  }
});

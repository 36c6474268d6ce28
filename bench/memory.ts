// `npx tsx bench/memory.ts`: the memory scorer's cost per frame on ViT-B/16 @224 (random weights:
// speed does not depend on the values), at 1, 4 and 16 shots (196 patches x K layers each), in
// its two possible placements:
//   second graph  vision.onnx (fetching patch_embeds too) then memory.onnx (what bundles ship);
//   in the graph  one vision graph with the memory head inside (built here for the comparison).
// Each as ms per frame above the bare vision graph (anomaly map + score only) and as a share of
// it, batch 1, best of N runs on the CPU provider. The machine is shared: compare the ratios.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadBundle } from '../models/bundle/load.ts';
import { MEMORY_INPUTS, MEMORY_OUTPUTS } from '../models/graphs/memory.ts';
import { buildVisionGraph } from '../models/graphs/vision.ts';
import { ExternalWeights, GraphBuilder } from '../models/onnx/graph-builder.ts';
import { VIT_B_16 } from '../models/weights/random-weights.ts';
import { readClipWeights } from '../models/weights/read-weights.ts';
import { normaliseRows } from '../tuning/memory-bank.ts';
import { createRng } from '../tuning/rng.ts';
import { benchDir, randomBundle } from './random-bundle.ts';
import { bestOf, openSession } from './session-timing.ts';

const SHOTS = [1, 4, 16];
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);

async function inGraphVision(
  weightsDir: string,
  manifest: { vision: { imageSize: number; layers: number[]; laa: { enabled: boolean; radius?: number; from?: number } } },
): Promise<string> {
  const dir = path.join(benchDir, 'memory-in-vision');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'vision-memory.onnx');
  const w = await readClipWeights(weightsDir);
  if (!w.ok) throw new Error(w.error);
  const ext = new ExternalWeights('vision-memory.weights');
  const g = new GraphBuilder('vision-memory', ext);
  const laa = manifest.vision.laa.enabled ? { radius: manifest.vision.laa.radius!, from: manifest.vision.laa.from! } : null;
  buildVisionGraph(g, w.value, { imageSize: manifest.vision.imageSize, layers: manifest.vision.layers, laa, precision: 'fp32', memoryHead: true });
  await fs.writeFile(file, g.encode());
  await ext.write(dir);
  return file;
}

async function main(): Promise<void> {
  const key = 'vit-b-16-224';
  const { dir } = await randomBundle(key, VIT_B_16);
  const bundle = await loadBundle(dir, { verify: false });
  if (!bundle.ok) throw new Error(bundle.error);
  const m = bundle.value.manifest;
  const [K, N, E, size] = [m.vision.layers.length, m.vision.grid ** 2, m.embedDim, m.vision.imageSize];
  const rng = createRng(1);
  const pixels = new ort.Tensor(
    'float32',
    Float32Array.from({ length: 3 * size * size }, () => rng.normal()),
    [1, 3, size, size],
  );
  const text = new ort.Tensor(
    'float32',
    Float32Array.from({ length: 2 * E }, () => rng.normal()),
    [2, E],
  );
  // unit rows, as tuning builds banks (memory.onnx takes them as they are)
  const bankOf = (shots: number) => {
    const rows = Float32Array.from({ length: K * shots * N * E }, () => rng.normal());
    normaliseRows(rows, E);
    return new ort.Tensor('float32', rows, [K, shots * N, E]);
  };
  const head = ['anomaly_map', 'anomaly_score'];
  const lines = [
    `onnxruntime-node ${ort.env.versions.common}, CPU, ${THREADS} intra-op thread(s), batch 1, best of ${RUNS}; ViT-B/16@224, K = ${K} layers, N = ${N}, E = ${E}`,
  ];

  const vision = await openSession(bundle.value.paths.vision, THREADS);
  const memory = await openSession(bundle.value.paths.memory!, THREADS);
  const bare = await bestOf(() => vision.run({ pixel_values: pixels, text_embeds: text }, head), RUNS, 2);
  lines.push(`bare vision graph: ${bare.toFixed(1)} ms/frame`);
  const second: Record<number, { total: number; search: number }> = {};
  for (const shots of SHOTS) {
    const bank = bankOf(shots);
    const patches = (await vision.run({ pixel_values: pixels, text_embeds: text }, ['patch_embeds'])).patch_embeds;
    const search = await bestOf(() => memory.run({ [MEMORY_INPUTS.patches]: patches, [MEMORY_INPUTS.bank]: bank }), RUNS, 2);
    const total = await bestOf(
      async () => {
        const out = await vision.run({ pixel_values: pixels, text_embeds: text }, [...head, 'patch_embeds']);
        await memory.run({ [MEMORY_INPUTS.patches]: out.patch_embeds, [MEMORY_INPUTS.bank]: bank });
      },
      RUNS,
      1,
    );
    second[shots] = { total, search };
  }
  await vision.release();
  await memory.release();

  const inside = await openSession(await inGraphVision(path.join(benchDir, 'bundles', `${key}-weights`), m), THREADS);
  for (const shots of SHOTS) {
    const bank = bankOf(shots);
    const total = await bestOf(
      () => inside.run({ pixel_values: pixels, text_embeds: text, [MEMORY_INPUTS.bank]: bank }, [...head, MEMORY_OUTPUTS.map, MEMORY_OUTPUTS.score]),
      RUNS,
      2,
    );
    const s = second[shots];
    const pct = (ms: number, base: number) => `${(((ms - base) / base) * 100).toFixed(1)} %`;
    lines.push(
      `${String(shots).padStart(2)} shot(s), bank ${shots * N} rows/layer: memory.onnx alone ${s.search.toFixed(1)} ms (${((s.search / bare) * 100).toFixed(1)} % of vision); ` +
        `second graph +${(s.total - bare).toFixed(1)} ms (${pct(s.total, bare)}); in the graph +${(total - bare).toFixed(1)} ms (${pct(total, bare)})`,
    );
  }
  await inside.release();
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:memory: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

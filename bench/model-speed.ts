// `npm run bench:model`: CPU speed of the bundle graphs against the same runtime's dense MatMul.
// Builds ViT-B/16 @224 and ViT-L/14 @336 bundles from random weights (speed does not depend on
// the values) and prints, for 1 and 2 intra-op threads: vision ms/image at batch 1 and 4, the
// effective GFLOP/s from an analytic FLOP count, the dense-MatMul GFLOP/s measured in the same
// process, their ratio (the median over rounds that run the dense chain and the model back to
// back, each round's pair seeing the same machine: session-timing.ts pairedRuns), text_vjp and
// text ms per tuning step at S = 16, and peak RSS; then the
// int8 bundle of the same weights: ms/image, speed-up over float32, its throughput against the
// same-run int8 ceiling (the dense chain as DynamicQuantizeLinear + MatMulInteger, the way the
// bundle's int8 Linear layers are built), and how far its outputs move.
//
// Each model is measured in a child process so its peak RSS is that of inference alone (the build
// holds the whole checkpoint in memory several times over), and sessions are opened one at a
// time (a model and its dense reference together, run in turn with a pause between): idle
// onnxruntime thread pools keep spinning and would steal the cores from the next one.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { loadBundle } from '../models/bundle/load.ts';
import { tensorDifference } from '../models/bundle/tensor-difference.ts';
import { GraphBuilder } from '../models/onnx/graph-builder.ts';
import { linear, type WeightPrecision } from '../models/onnx/transformer.ts';
import { type ClipDims, VIT_B_16, VIT_L_14_336 } from '../models/weights/random-weights.ts';
import { percentile } from '../util/percentile.ts';
import { randomBundle } from './random-bundle.ts';
import { bestMs, openSession, type Pair, pairedRuns } from './session-timing.ts';
import { visionFeeds } from './vision-feeds.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const workDir = path.join(repoRoot, '.bench-out', 'model-speed');
const THREADS = [1, 2];
/** Tuning runs the text graphs for 4 prompts per step (normal/anomalous x 2 meta prompts). */
const PROMPTS_PER_STEP = 4;
const PROMPT_TOKENS = 16;

interface ModelCase {
  name: string;
  dims: ClipDims;
  /** Timed rounds (dense chain, then the model) per batch size after warm-up: odd, so the median is a round; few for the heavy model. */
  runs: Record<number, number>;
}

const CASES: ModelCase[] = [
  { name: 'ViT-B/16@224', dims: VIT_B_16, runs: { 1: 7, 4: 5 } },
  { name: 'ViT-L/14@336', dims: VIT_L_14_336, runs: { 1: 3, 4: 3 } },
];

// ---------------------------------------------------------------------------------------------
// FLOP counts (multiply-add = 2 FLOP)

interface FlopCount {
  patchEmbedding: number;
  blocks: number;
  projections: number;
  head: number;
  total: number;
}

/** Vision graph FLOPs per image for `layers` selected blocks. */
export function visionFlops(d: ClipDims, layers: number): FlopCount {
  const { imageSize: size, patchSize: p, width: w, layers: depth } = d.vision;
  const n = (size / p) ** 2;
  const t = n + 1;
  const e = d.embedDim;
  const patchEmbedding = 2 * n * w * 3 * p * p;
  // per block: q,k,v (3 w^2), output (w^2) and MLP (8 w^2) per token, plus scores and weighted sum (2 t^2 w)
  const blocks = depth * (2 * t * 12 * w * w + 2 * 2 * t * t * w);
  const projections = 2 * (layers * n + 1) * w * e;
  // cosine against the text direction per layer, then separable 25-tap smoothing of the upsampled map
  const taps = 2 * Math.ceil(3 * 4) + 1;
  const head = 2 * layers * n * e + 2 * taps * ((size + taps - 1) * size + size * size);
  return { patchEmbedding, blocks, projections, head, total: patchEmbedding + blocks + projections + head };
}

// ---------------------------------------------------------------------------------------------
// child process: measure one bundle

interface VisionTiming {
  batch: number;
  /** The best round's. */
  msPerImage: number;
  gflops: number;
  /** Model over dense throughput per round: the median, and the lowest and highest round. */
  ratio: { median: number; low: number; high: number };
  /** The best dense round's. */
  denseGflops: number;
}

interface Measurement {
  threads: number;
  vision: VisionTiming[];
  /** The int8 bundle of the same weights and the int8 dense chain, when an int8 bundle was given. */
  int8Vision: VisionTiming[] | null;
  textVjpMs: number;
  textMs: number;
}

/** How far the int8 bundle's outputs are from the float32 ones on the same image (batch 1). */
interface Int8Deviation {
  /** Over all patch rows of all selected layers: the lowest and the mean cosine similarity. */
  patchCosineMin: number;
  patchCosineMean: number;
  /** max |a - b| / max |b| over patch_embeds. */
  patchMaxRel: number;
  /** |a - b| of the anomaly score (random text embeddings, so only its stability means anything). */
  scoreAbs: number;
}

interface ChildReport {
  measurements: Measurement[];
  int8Deviation: Int8Deviation | null;
  peakRssMiB: number;
}

/** ViT-MLP-shaped dense chain: [1024,768] x [768,3072] x [3072,768], four times over. */
const DENSE = { m: 1024, k: 768, n: 3072, pairs: 4 };

/**
 * The dense chain with its matrices as the bundle's Linear layers of `precision` store them
 * (transformer.ts `linear`, no bias): plain MatMul for fp32, DynamicQuantizeLinear + MatMulInteger
 * and the rescale for int8, so each ceiling is what the graph's own GEMMs could reach.
 */
async function writeDenseGraph(file: string, precision: WeightPrecision): Promise<number> {
  const g = new GraphBuilder(`dense_${precision}`);
  const { m, k, n, pairs } = DENSE;
  let x = g.input('x', 'float32', [m, k]);
  // PyTorch Linear layout [out, in], scaled so the activations stay O(1) along the chain
  const matrix = (rows: number, cols: number) => ({
    rows,
    cols,
    data: Float32Array.from({ length: rows * cols }, (_, i) => ((i % 17) - 8) / (8 * Math.sqrt(cols))),
  });
  const up = matrix(n, k);
  const down = matrix(k, n);
  for (let i = 0; i < pairs; i++) x = linear(g, linear(g, x, up, null, precision, `up${i}`), down, null, precision, `down${i}`);
  g.output(x, 'y', 'float32', [m, k]);
  await fs.writeFile(file, g.encode());
  return pairs * 2 * (2 * m * k * n);
}

async function measure(bundleDir: string, int8Dir: string | null, runs: Record<number, number>, flopsPerImage: number): Promise<ChildReport> {
  const bundle = await loadBundle(bundleDir, { verify: false });
  if (!bundle.ok) throw new Error(bundle.error);
  const int8Bundle = int8Dir ? await loadBundle(int8Dir, { verify: false }) : null;
  if (int8Bundle && !int8Bundle.ok) throw new Error(int8Bundle.error);
  const int8 = int8Bundle?.ok ? int8Bundle.value : null;
  const m = bundle.value.manifest;
  const denseFiles = { fp32: path.join(workDir, 'dense.onnx'), int8: path.join(workDir, 'dense-int8.onnx') };
  const denseFlops = await writeDenseGraph(denseFiles.fp32, 'fp32');
  await writeDenseGraph(denseFiles.int8, 'int8');
  const measurements: Measurement[] = [];
  const denseFeeds = { x: new ort.Tensor('float32', new Float32Array(DENSE.m * DENSE.k).fill(0.5), [DENSE.m, DENSE.k]) };
  const visionTimings = async (file: string, threads: number, precision: WeightPrecision): Promise<VisionTiming[]> => {
    const dense = await openSession(denseFiles[precision], threads);
    const session = await openSession(file, threads);
    const timings: VisionTiming[] = [];
    for (const batch of [1, 4]) {
      const feeds = visionFeeds(m, batch);
      const pairs = await pairedRuns(
        () => dense.run(denseFeeds),
        () => session.run(feeds),
        runs[batch],
        batch === 1 ? 2 : 1,
      );
      timings.push(visionTiming(pairs, batch, flopsPerImage, denseFlops));
    }
    await session.release();
    await dense.release();
    return timings;
  };
  for (const threads of THREADS) {
    const vision = await visionTimings(bundle.value.paths.vision, threads, 'fp32');
    const int8Vision = int8 ? await visionTimings(int8.paths.vision, threads, 'int8') : null;

    const prompts = {
      prompt_embeds: new ort.Tensor(
        'float32',
        Float32Array.from({ length: PROMPTS_PER_STEP * PROMPT_TOKENS * m.text.width }, (_, i) => 0.02 * Math.cos(i)),
        [PROMPTS_PER_STEP, PROMPT_TOKENS, m.text.width],
      ),
      eot_index: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: PROMPTS_PER_STEP }, () => BigInt(PROMPT_TOKENS - 1)),
        [PROMPTS_PER_STEP],
      ),
    };
    const textSession = await openSession(bundle.value.paths.text, threads);
    const textMs = await bestMs(textSession, prompts, 10, 3);
    await textSession.release();
    const session = await openSession(bundle.value.paths.textVjp, threads);
    const upstream = new ort.Tensor('float32', new Float32Array(PROMPTS_PER_STEP * m.embedDim).fill(0.1), [PROMPTS_PER_STEP, m.embedDim]);
    const textVjpMs = await bestMs(session, { ...prompts, upstream_grad: upstream }, 10, 3);
    await session.release();

    measurements.push({ threads, vision, int8Vision, textVjpMs, textMs });
  }
  const int8Deviation = int8 ? await deviation(bundle.value.paths.vision, int8.paths.vision, visionFeeds(m, 1)) : null;
  return { measurements, int8Deviation, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function visionTiming(pairs: Pair[], batch: number, flopsPerImage: number, denseFlops: number): VisionTiming {
  const ratios = pairs.map((p) => (flopsPerImage * batch * p.referenceMs) / (p.subjectMs * denseFlops)).sort((a, b) => a - b);
  const bestMs = Math.min(...pairs.map((p) => p.subjectMs)) / batch;
  return {
    batch,
    msPerImage: bestMs,
    gflops: flopsPerImage / bestMs / 1e6,
    ratio: { median: percentile(ratios, 0.5), low: ratios[0], high: ratios[ratios.length - 1] },
    denseGflops: denseFlops / Math.min(...pairs.map((p) => p.referenceMs)) / 1e6,
  };
}

async function visionOutputs(file: string, feeds: Record<string, ort.Tensor>): Promise<{ patches: ort.Tensor; score: number }> {
  const session = await openSession(file, 2);
  const out = await session.run(feeds);
  await session.release();
  return { patches: out.patch_embeds, score: (out.anomaly_score.data as Float32Array)[0] };
}

async function deviation(float32File: string, int8File: string, feeds: Record<string, ort.Tensor>): Promise<Int8Deviation> {
  const a = await visionOutputs(float32File, feeds);
  const b = await visionOutputs(int8File, feeds);
  const d = tensorDifference(b.patches.data as Float32Array, a.patches.data as Float32Array, a.patches.dims[3]);
  return { patchCosineMin: d.minCosine, patchCosineMean: d.meanCosine, patchMaxRel: d.maxRel, scoreAbs: Math.abs(a.score - b.score) };
}

// ---------------------------------------------------------------------------------------------
// parent: weights, bundles, children, report

function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { cwd: repoRoot, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args[0]} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

const fmt = (v: number, digits = 1) => v.toFixed(digits);
const pct = (v: number) => `${(100 * v).toFixed(0)}%`;

function report(c: ModelCase, flops: FlopCount, layers: number, buildSeconds: number, r: ChildReport): string {
  const g = (v: number) => fmt(v / 1e9, 2);
  const lines = [
    `${c.name}  (${c.dims.vision.layers} blocks, width ${c.dims.vision.width}, ${(c.dims.vision.imageSize / c.dims.vision.patchSize) ** 2 + 1} tokens, ${layers} selected layers, LAA on)`,
    `  FLOP/image: ${g(flops.total)} G = blocks ${g(flops.blocks)} + patch embedding ${g(flops.patchEmbedding)} + ln_post/proj ${g(flops.projections)} + anomaly head ${g(flops.head)}`,
    `  bundle build: ${fmt(buildSeconds)} s`,
    `  threads | dense MatMul | vision b=1: ms/img  GFLOP/s  ratio (rounds' range) | vision b=4: ms/img  GFLOP/s  ratio (rounds' range) | text S=16 P=4 | text_vjp S=16 P=4`,
  ];
  const ratio = (v: VisionTiming) => `${pct(v.ratio.median).padStart(4)} (${pct(v.ratio.low)}-${pct(v.ratio.high)})`.padEnd(16);
  for (const m of r.measurements) {
    const cells = m.vision.map((v) => `${fmt(v.msPerImage).padStart(9)}  ${fmt(v.gflops).padStart(7)}  ${ratio(v)}`);
    const dense = Math.max(...m.vision.map((v) => v.denseGflops));
    lines.push(
      `  ${String(m.threads).padStart(7)} | ${fmt(dense).padStart(7)} GF/s | ${cells[0]} | ${cells[1]} | ${fmt(m.textMs).padStart(8)} ms | ${fmt(m.textVjpMs).padStart(10)} ms`,
    );
  }
  if (r.int8Deviation) {
    lines.push(
      "  int8 bundle (same weights; blocks' Linear layers int8): threads | int8 dense | b=1: ms/img  speed-up  GOP/s  ratio (range) | b=4: ms/img  speed-up  GOP/s  ratio (range)",
    );
    for (const m of r.measurements) {
      const ceiling = Math.max(...m.int8Vision!.map((v) => v.denseGflops));
      const cells = m.int8Vision!.map(
        (v, i) => `${fmt(v.msPerImage).padStart(9)}  ${fmt(m.vision[i].msPerImage / v.msPerImage, 2).padStart(7)}x  ${fmt(v.gflops).padStart(5)}  ${ratio(v)}`,
      );
      lines.push(`  ${' '.repeat(56)}${String(m.threads).padStart(7)} | ${fmt(ceiling).padStart(5)} GOP/s | ${cells[0]} | ${cells[1]}`);
    }
    const d = r.int8Deviation;
    lines.push(
      `  int8 vs float32 on one image: patch embedding cosine min ${fmt(d.patchCosineMin, 4)}, mean ${fmt(d.patchCosineMean, 4)}; ` +
        `max error ${d.patchMaxRel.toExponential(1)} of the range; anomaly score |diff| ${d.scoreAbs.toExponential(1)} (random weights: real CLIP activations have outliers that quantize worse)`,
    );
  }
  lines.push(`  peak RSS while measuring: ${fmt(r.peakRssMiB, 0)} MiB (bundle loaded, sessions opened one at a time)`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--measure') {
    const [bundle, int8, runs, flops] = [argv[1], argv[2] || null, JSON.parse(argv[3]) as Record<number, number>, Number(argv[4])];
    process.stdout.write(JSON.stringify(await measure(bundle, int8, runs, flops)));
    return;
  }
  await fs.mkdir(workDir, { recursive: true });
  const only = argv[0];
  const out: string[] = [`onnxruntime-node ${ort.env.versions.common}, CPU provider, best of N runs (shared machine: the minimum is the least disturbed)`];
  for (const c of CASES) {
    if (only && !c.name.toLowerCase().startsWith(only.toLowerCase())) continue;
    const key = c.name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
    const { dir: bundle, buildSeconds } = await randomBundle(key, c.dims, { rebuild: true });
    const { dir: int8 } = await randomBundle(key, c.dims, { precision: 'int8', rebuild: true });
    const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
    const layers = manifest.vision.layers.length;
    const flops = visionFlops(c.dims, layers);
    process.stderr.write(`${c.name}: measuring\n`);
    const measured = JSON.parse(await child(['--measure', bundle, int8, JSON.stringify(c.runs), String(flops.total)])) as ChildReport;
    const text = report(c, flops, layers, buildSeconds!, measured);
    process.stdout.write(`${text}\n\n`);
    out.push(text);
  }
  await fs.writeFile(path.join(workDir, 'last-report.txt'), `${out.join('\n\n')}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench:model: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

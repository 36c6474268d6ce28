// `npx tsx bench/profile-vision.ts [vit-l] [int8] [threads] [batch]`: where the vision graph's time
// goes on the CPU provider. Runs a random-weight bundle (ViT-B/16 @224, or ViT-L/14 @336 with
// `vit-l`: the ones bench:model measures) with
// onnxruntime's profiler on and prints the op types of the optimized graph by share of the node
// time, with their node counts, so a graph change can be judged by which ops it removed or fused.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Manifest } from '../models/bundle/manifest.ts';
import { VIT_B_16, VIT_L_14_336 } from '../models/weights/random-weights.ts';
import { benchDir, randomBundle } from './random-bundle.ts';
import { visionFeeds } from './vision-feeds.ts';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

interface OpShare {
  op: string;
  us: number;
  /** Distinct nodes of this op type, i.e. how many the optimized graph holds. */
  nodes: number;
}

/** Node kernel time per op type over all profiled runs, largest first. */
export function opShares(events: ProfileEvent[]): OpShare[] {
  const byOp = new Map<string, { us: number; nodes: Set<string> }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    const entry = byOp.get(e.args.op_name) ?? { us: 0, nodes: new Set<string>() };
    entry.us += e.dur;
    entry.nodes.add(e.name);
    byOp.set(e.args.op_name, entry);
  }
  return [...byOp.entries()].map(([op, v]) => ({ op, us: v.us, nodes: v.nodes.size })).sort((a, b) => b.us - a.us);
}

async function main(argv: string[]): Promise<void> {
  const int8 = argv.includes('int8');
  const model = argv.includes('vit-l')
    ? { key: 'vit-l-14-336', name: 'ViT-L/14@336', dims: VIT_L_14_336 }
    : { key: 'vit-b-16-224', name: 'ViT-B/16@224', dims: VIT_B_16 };
  const [threads = 2, batch = 1] = argv.filter((a) => /^\d+$/.test(a)).map(Number);
  const runs = 3;
  const { dir } = await randomBundle(model.key, model.dims, { rebuild: true, ...(int8 ? { precision: 'int8' } : {}) });
  const outDir = path.join(benchDir, 'profile');
  await fs.mkdir(outDir, { recursive: true });
  const prefix = path.join(outDir, `vision-${int8 ? 'int8' : 'fp32'}`);
  const session = await ort.InferenceSession.create(path.join(dir, 'vision.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    optimizedModelFilePath: `${prefix}-optimized.onnx`,
  });
  const manifest: Manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
  const feeds = visionFeeds(manifest, batch);
  // warm-up outside the profile: the first run grows the arena and faults pages in
  await session.run(feeds);
  await session.release();

  const profiled = await ort.InferenceSession.create(path.join(dir, 'vision.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  await profiled.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await profiled.run(feeds);
  const wallMs = (performance.now() - t0) / runs;
  profiled.endProfiling();
  await profiled.release();

  // onnxruntime names the file <prefix>_<timestamp>.json and the Node binding does not return it
  const base = path.basename(prefix);
  const files = (await fs.readdir(outDir)).filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json')).sort();
  const file = path.join(outDir, files[files.length - 1]);
  const shares = opShares(JSON.parse(await fs.readFile(file, 'utf8')) as ProfileEvent[]);
  const total = shares.reduce((s, o) => s + o.us, 0);
  process.stdout.write(`vision ${int8 ? 'int8' : 'fp32'} ${model.name}, ${threads} threads, batch ${batch}: ${wallMs.toFixed(1)} ms/run wall (profiler on)\n`);
  process.stdout.write(`profile: ${path.relative(process.cwd(), file)}; optimized graph: ${path.relative(process.cwd(), `${prefix}-optimized.onnx`)}\n`);
  process.stdout.write('  share   ms/run  nodes  op\n');
  for (const o of shares) {
    process.stdout.write(
      `${((100 * o.us) / total).toFixed(1).padStart(6)}% ${(o.us / 1000 / (runs + 1)).toFixed(2).padStart(8)} ${String(o.nodes).padStart(6)}  ${o.op}\n`,
    );
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`profile-vision: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

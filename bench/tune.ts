// `npm run bench:tune`: one tuning run at the size DESIGN.md sets a target for: a ViT-B/16@224
// bundle (random weights: speed does not depend on the values), 16 real normal images (MVTec AD
// grid, read in place from ../shared/data), 300 prompt steps, CPU. Prints wall time per activity
// (synthesis, feature extraction, prompt steps, calibration, memory bank), the total, and peak RSS.
// Target (DESIGN.md): prompts + memory + calibration within 60 s and < 2 GB on a 2-core CPU.
//
// The bundle is built once into .bench-out/bundles/ and reused. The measured run is a child process,
// so its peak RSS is that of tuning alone (a build holds the checkpoint several times over).
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VIT_B_16 } from '../models/weights/random-weights.ts';
import { listImageFiles } from '../tuning/images.ts';
import type { PhaseTimings } from '../tuning/learn-prompts.ts';
import { runTuneJob } from '../tuning/tune-job.ts';
import { randomBundle } from './random-bundle.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const normalsDir = path.resolve(repoRoot, '../shared/data/mvtec-grid-512/train/good');
const NORMALS = 16;
const STEPS = 300;

interface Measurement {
  timings: PhaseTimings & { memory: number };
  totalMs: number;
  maxRssKiB: number;
  status: string;
  metrics: Record<string, number>;
  heapMiB: number;
}

/** The measured run (in the child process). */
async function measure(bundleDir: string): Promise<Measurement> {
  const files = await listImageFiles(normalsDir);
  if (!files.ok) throw new Error(files.error);
  if (files.value.length < NORMALS) throw new Error(`${normalsDir} holds ${files.value.length} images, ${NORMALS} needed`);
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-bench-tune-'));
  try {
    const started = performance.now();
    const result = await runTuneJob({ bundleDir, normals: files.value.slice(0, NORMALS), outDir: out, steps: STEPS, seed: 0 });
    const totalMs = performance.now() - started;
    if (!result.ok) throw new Error(result.error);
    return {
      timings: result.value.timings,
      totalMs,
      maxRssKiB: process.resourceUsage().maxRSS,
      status: result.value.status,
      metrics: result.value.set.metrics,
      heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
    };
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
}

function runChild(bundleDir: string): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', bundleDir],
      { cwd: repoRoot, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`measured run failed: ${stderr || error.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Measurement);
      },
    );
  });
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1).padStart(6)} s`;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--measure');
  if (at >= 0) {
    process.stdout.write(`${JSON.stringify(await measure(process.argv[at + 1]))}\n`);
    return;
  }
  const { dir: bundleDir } = await randomBundle('vit-b-16-224', VIT_B_16);
  process.stderr.write(`tuning: ${NORMALS} normals from ${normalsDir}, ${STEPS} steps...\n`);
  const m = await runChild(bundleDir);
  const t = m.timings;
  const other = m.totalMs - (t.synthesis + t.features + t.steps + t.calibration + t.memory);
  const rssMiB = m.maxRssKiB / 1024;
  const lines = [
    `bench:tune  ViT-B/16@224 (random weights), ${NORMALS} normals (MVTec AD grid), ${STEPS} steps, CPU, ${os.cpus().length} cores`,
    `  synthesis (OAGM)          ${seconds(t.synthesis)}`,
    `  feature extraction        ${seconds(t.features)}   (vision.onnx over the normals and the training anomalies)`,
    `  prompt steps              ${seconds(t.steps)}   (${(t.steps / STEPS).toFixed(1)} ms/step)`,
    `  calibration               ${seconds(t.calibration)}   (vision.onnx over the held-out images with the new prompts, calibrate, gate)`,
    `  memory bank               ${seconds(t.memory)}   (bank of the training normals, memory.onnx over the held-out images, its calibration)`,
    `  other (load, read, store) ${seconds(other)}`,
    `  total                     ${seconds(m.totalMs)}   target < 60 s: ${m.totalMs < 60_000 ? 'met' : 'MISSED'}`,
    `  peak RSS                  ${rssMiB.toFixed(0).padStart(6)} MiB target < 2048 MiB: ${rssMiB < 2048 ? 'met' : 'MISSED'}`,
    `  gate: ${m.status}; ${Object.entries(m.metrics)
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
      .join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:tune: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

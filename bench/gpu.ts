// `npm run bench:gpu [-- --bundle DIR] [--providers tensorrt,cuda,cpu] [--device N]`: the bundle
// graphs on each execution provider through the agent's own session factory, on the device that
// has them. Per provider: session creation time (for TensorRT the engine build), vision ms/image
// at batch 1 and 4, one re-tuning step's text_vjp, and how far the provider's outputs are from
// the CPU provider's on the same inputs. Numbers, not pass/fail; a provider that cannot open a
// graph says why. Without --bundle it uses the random-weights ViT-B/16 bundle of the other
// benchmarks (speed does not depend on the values). Where no GPU provider can run (a CPU-only
// install, or its libraries missing) it exits 1 at once, saying what is missing and what fixes it.
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { providersOption } from '../cli/providers-option.ts';
import { type Bundle, loadBundle } from '../models/bundle/load.ts';
import { tensorDifference } from '../models/bundle/tensor-difference.ts';
import { DEFAULT_PROVIDER_SETTINGS, type ExecutionProvider } from '../models/runtime/execution-providers.ts';
import { providerProblem } from '../models/runtime/provider-availability.ts';
import { createSession } from '../models/session.ts';
import { VIT_B_16 } from '../models/weights/random-weights.ts';
import { createLogger } from '../util/log.ts';
import { randomBundle } from './random-bundle.ts';
import { visionFeeds } from './vision-feeds.ts';

const RUNS = 10;
/** A tuning step's text graphs: 4 prompts (normal/anomalous x 2 meta prompts) of 16 tokens. */
const PROMPTS = 4;
const PROMPT_TOKENS = 16;

type Feeds = Record<string, ort.Tensor>;

/** Best and median of `RUNS` timed runs after two warm-ups (the first runs allocate and tune). */
async function timeRuns(session: ort.InferenceSession, feeds: Feeds): Promise<{ best: number; median: number }> {
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { best: ms[0], median: ms[Math.floor(ms.length / 2)] };
}

function vjpFeeds(b: Bundle): Feeds {
  const w = b.manifest.text.width;
  return {
    prompt_embeds: new ort.Tensor(
      'float32',
      Float32Array.from({ length: PROMPTS * PROMPT_TOKENS * w }, (_, i) => 0.02 * Math.cos(i)),
      [PROMPTS, PROMPT_TOKENS, w],
    ),
    eot_index: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: PROMPTS }, () => BigInt(PROMPT_TOKENS - 1)),
      [PROMPTS],
    ),
    upstream_grad: new ort.Tensor('float32', new Float32Array(PROMPTS * b.manifest.embedDim).fill(0.1), [PROMPTS, b.manifest.embedDim]),
  };
}

interface ProviderResult {
  provider: string;
  visionOpenS: number;
  vision: { batch: number; bestMs: number; medianMs: number }[];
  vjpOpenS: number;
  vjpMs: number;
  outputs: { patches: Float32Array; grad: Float32Array; width: number; textWidth: number };
}

async function opened(file: string, provider: string, deviceId: number | undefined): Promise<{ session: ort.InferenceSession; seconds: number }> {
  const t0 = performance.now();
  // one provider per attempt, no fallback: a number must belong to the provider it is printed for
  const settings = { ...DEFAULT_PROVIDER_SETTINGS, cuda: { device_id: deviceId ?? DEFAULT_PROVIDER_SETTINGS.cuda.device_id } };
  const { session } = await createSession(file, { providers: [provider], settings, logger: createLogger('bench') });
  return { session, seconds: (performance.now() - t0) / 1000 };
}

async function measure(b: Bundle, provider: string, deviceId: number | undefined): Promise<ProviderResult> {
  const vision = await opened(b.paths.vision, provider, deviceId);
  const timings = [];
  for (const batch of [1, 4]) {
    const t = await timeRuns(vision.session, visionFeeds(b.manifest, batch));
    timings.push({ batch, bestMs: t.best / batch, medianMs: t.median / batch });
  }
  const visionOut = await vision.session.run(visionFeeds(b.manifest, 1));
  await vision.session.release();
  const vjp = await opened(b.paths.textVjp, provider, deviceId);
  const vjpTime = await timeRuns(vjp.session, vjpFeeds(b));
  const grad = (await vjp.session.run(vjpFeeds(b))).prompt_grad;
  await vjp.session.release();
  return {
    provider,
    visionOpenS: vision.seconds,
    vision: timings,
    vjpOpenS: vjp.seconds,
    vjpMs: vjpTime.best,
    outputs: {
      patches: visionOut.patch_embeds.data as Float32Array,
      grad: grad.data as Float32Array,
      width: visionOut.patch_embeds.dims[3],
      textWidth: grad.dims[2],
    },
  };
}

function row(r: ProviderResult, cpu: ProviderResult | undefined): string {
  const f = (v: number, d = 1) => v.toFixed(d);
  const vision = r.vision.map((v) => `b=${v.batch} ${f(v.bestMs).padStart(7)} (median ${f(v.medianMs)}) ms/img`).join('  ');
  let deviation = '';
  if (cpu && cpu !== r) {
    const p = tensorDifference(r.outputs.patches, cpu.outputs.patches, r.outputs.width);
    const g = tensorDifference(r.outputs.grad, cpu.outputs.grad, r.outputs.textWidth);
    deviation = `  vs cpu: patch cosine min ${f(p.minCosine, 5)}, max abs ${p.maxAbs.toExponential(1)}; prompt_grad max rel ${g.maxRel.toExponential(1)}`;
  }
  return `${r.provider.padEnd(9)} open ${f(r.visionOpenS).padStart(6)} s  ${vision}  | text_vjp open ${f(r.vjpOpenS)} s, ${f(r.vjpMs)} ms/step${deviation}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { bundle: { type: 'string' }, providers: { type: 'string', default: 'tensorrt,cuda,cpu' }, device: { type: 'string' } },
  });
  const providers = providersOption(values.providers) ?? [];
  const unusable = await noGpuProvider(providers);
  if (unusable) throw new Error(unusable);
  const dir = values.bundle ?? (await randomBundle('vit-b-16-224', VIT_B_16)).dir;
  const bundle = await loadBundle(dir, { verify: false });
  if (!bundle.ok) throw new Error(bundle.error);
  const deviceId = values.device === undefined ? undefined : Number(values.device);
  const built = ort.listSupportedBackends().map((b) => b.name);
  // the CPU provider runs too (last) when not asked for: it is what the others are compared with
  const order = [...providers.filter((p) => p !== 'cpu'), 'cpu'];
  const lines = [
    `onnxruntime-node ${ort.env.versions.common}, backends in this build: ${built.join(', ')}; bundle ${bundle.value.dir} (${bundle.value.manifest.vision.precision})`,
  ];
  const results: ProviderResult[] = [];
  for (const provider of order) {
    process.stderr.write(`${provider}: measuring (a TensorRT engine build takes minutes)\n`);
    try {
      results.push(await measure(bundle.value, provider, deviceId));
    } catch (e) {
      lines.push(`${provider.padEnd(9)} could not run: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const cpu = results.find((r) => r.provider === 'cpu');
  for (const r of results) lines.push(row(r, cpu));
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Why none of the GPU providers asked for can run here; null when one can. */
async function noGpuProvider(providers: readonly ExecutionProvider[]): Promise<string | null> {
  const gpu = providers.filter((p) => p !== 'cpu');
  if (!gpu.length) return `--providers names no GPU provider (${providers.join(', ')}): nothing to measure`;
  const problems = await Promise.all(gpu.map(async (p) => ({ p, problem: await providerProblem(p) })));
  if (problems.some(({ problem }) => problem === null)) return null;
  const why = problems.map(({ p, problem }) => `${p}: ${problem!.missing} (${problem!.action})`).join('; ');
  return `no GPU execution provider can run on this install, nothing to measure: ${why}`;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:gpu: ${(e as Error).message}\n`);
  process.exit(1);
});

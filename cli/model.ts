// `linewatch model build | check | pull`
import { type BuildOptions, buildBundle } from '../models/bundle/build.ts';
import { checkBundle, formatReport } from '../models/bundle/check.ts';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../models/onnx/transformer.ts';
import { checkBundleForTensorrt, formatTensorrtReport } from '../models/tensorrt/check-bundle.ts';
import { DEFAULT_TENSORRT_VERSION, matrixFor, type SelectedMatrix } from '../models/tensorrt/support-matrix.ts';
import { parseOptions, required, runCommand, UsageError, wholeNumber } from './args.ts';

const usage = `usage:
  linewatch model build --weights DIR --out DIR [--image-size N] [--layers a,b,c]
                        [--laa-radius R] [--laa-from L] [--no-laa] [--precision fp32|int8]
  linewatch model check --bundle DIR --reference FILE [--json]
  linewatch model check --bundle DIR --target tensorrt [--tensorrt-version 10.x] [--reference FILE] [--json]
  linewatch model pull REPO_ID [--revision R] [--out DIR]   (see 'linewatch model pull --help')

build   writes a model bundle (vision.onnx, text.onnx, text_vjp.onnx, token embedding,
        tokenizer, manifest.json) from CLIP weights in the OpenCLIP or Hugging Face layout.
          --image-size N   input size in pixels, a multiple of the patch size (default: the weights')
          --layers a,b,c   1-based blocks whose patch embeddings feed the anomaly head
                           (default: four evenly spaced ending at the last block, e.g. 3,6,9,12)
          --laa-radius R   locality-aware attention radius in patches (default 1)
          --laa-from L     first block with locality-aware attention (default: last three blocks)
          --no-laa         plain CLIP attention in every block
          --precision P    fp32 (default) or int8: the vision blocks' Linear layers with int8
                           weights (per output channel), their inputs quantized per batch;
                           2-3x faster on CPUs with VNNI, approximate (see 'model check');
                           the text graphs stay float32
check   runs the bundle on a reference file's inputs and compares every applicable output;
        exit code 0 only when all are within tolerance.
          --target tensorrt  instead (or, with --reference, as well): holds every node of
                           vision.onnx, text.onnx and text_vjp.onnx against the ONNX-TensorRT
                           parser's operator matrix (models/tensorrt/), with its type and
                           attribute restrictions and static shapes except the batch; names each
                           node TensorRT cannot parse. Needs no TensorRT library. --reference is
                           optional with --target tensorrt.
          --tensorrt-version V  the TensorRT release to check for (default 10: the 10.x matrix)
          --json           machine-readable report on stdout

Exit codes: 0 success, 1 failure, 2 usage error.
`;

function help(): number {
  process.stdout.write(usage);
  return 0;
}

function layerList(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`--layers takes block numbers separated by commas (e.g. 3,6,9,12), not '${value}'`);
  return parts.map(Number);
}

function precision(value: string | undefined): WeightPrecision | undefined {
  if (value === undefined) return undefined;
  if (!(WEIGHT_PRECISIONS as readonly string[]).includes(value)) throw new UsageError(`--precision takes ${WEIGHT_PRECISIONS.join(' or ')}, not '${value}'`);
  return value as WeightPrecision;
}

async function build(argv: string[]): Promise<number> {
  const values = parseOptions(argv, {
    weights: { type: 'string' },
    out: { type: 'string' },
    'image-size': { type: 'string' },
    layers: { type: 'string' },
    'laa-radius': { type: 'string' },
    'laa-from': { type: 'string' },
    'no-laa': { type: 'boolean' },
    precision: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help();
  const options: BuildOptions = {
    weights: required('weights', values.weights),
    out: required('out', values.out),
    imageSize: wholeNumber('image-size', values['image-size']),
    layers: layerList(values.layers),
    laaRadius: wholeNumber('laa-radius', values['laa-radius']),
    laaFrom: wholeNumber('laa-from', values['laa-from']),
    laa: values['no-laa'] ? false : undefined,
    precision: precision(values.precision),
  };
  // one line per step with the time it started: the steps are few and long (a large checkpoint
  // takes seconds to read and to write), so a redrawn bar would say less than this
  const started = Date.now();
  const result = await buildBundle({
    ...options,
    onProgress: (done, total, step) => {
      const at = `${((Date.now() - started) / 1000).toFixed(1)}s`;
      process.stderr.write(done < total ? `[${done + 1}/${total}] ${step} (${at})\n` : `built in ${at}\n`);
    },
  });
  if (!result.ok) {
    process.stderr.write(`linewatch model build: ${result.error}\n`);
    return 1;
  }
  const m = result.value;
  const laa = m.vision.laa.enabled ? `LAA radius ${m.vision.laa.radius} from block ${m.vision.laa.from}` : 'no LAA';
  process.stderr.write(`bundle: ${m.vision.imageSize}px, ${m.vision.grid}x${m.vision.grid} patches, layers ${m.vision.layers.join(',')}, ${laa}\n`);
  process.stdout.write(`${options.out}\n`);
  return 0;
}

const TARGETS = ['tensorrt'] as const;

function target(value: string | undefined): (typeof TARGETS)[number] | undefined {
  if (value === undefined) return undefined;
  if (!(TARGETS as readonly string[]).includes(value)) throw new UsageError(`--target takes ${TARGETS.join(', ')}, not '${value}'`);
  return value as (typeof TARGETS)[number];
}

/** A check's outcome: what --json prints, what a person reads, and whether it passed. */
interface CheckOutcome {
  json: unknown;
  text: string;
  pass: boolean;
}

async function referenceCheck(bundle: string, reference: string): Promise<CheckOutcome | string> {
  const result = await checkBundle(bundle, reference);
  return result.ok ? { json: result.value, text: formatReport(result.value), pass: result.value.pass } : result.error;
}

async function tensorrtCheck(bundle: string, matrix: SelectedMatrix): Promise<CheckOutcome | string> {
  const result = await checkBundleForTensorrt(bundle, matrix);
  return result.ok ? { json: result.value, text: formatTensorrtReport(result.value), pass: result.value.pass } : result.error;
}

async function check(argv: string[]): Promise<number> {
  const values = parseOptions(argv, {
    bundle: { type: 'string' },
    reference: { type: 'string' },
    target: { type: 'string' },
    'tensorrt-version': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help();
  const bundle = required('bundle', values.bundle);
  const trt = target(values.target);
  if (values['tensorrt-version'] !== undefined && !trt) throw new UsageError('--tensorrt-version needs --target tensorrt');
  const reference = trt ? values.reference : required('reference', values.reference);
  const matrix = trt ? matrixFor(values['tensorrt-version'] ?? DEFAULT_TENSORRT_VERSION) : undefined;
  if (matrix && !matrix.ok) throw new UsageError(`--tensorrt-version: ${matrix.error}`);
  const outcomes: Record<string, CheckOutcome | string> = {};
  if (reference !== undefined) outcomes.reference = await referenceCheck(bundle, reference);
  if (matrix) outcomes.tensorrt = await tensorrtCheck(bundle, matrix.value);
  const entries = Object.entries(outcomes);
  const failed = entries.filter((e): e is [string, string] => typeof e[1] === 'string');
  for (const [, error] of failed) process.stderr.write(`linewatch model check: ${error}\n`);
  const done = entries.filter((e): e is [string, CheckOutcome] => typeof e[1] !== 'string');
  const pass = failed.length === 0 && done.every(([, o]) => o.pass);
  if (values.json) {
    const json = (o: CheckOutcome | string) => (typeof o === 'string' ? { pass: false, error: o } : o.json);
    // one check: its report as before; both: one object holding each
    const body = entries.length === 1 ? json(entries[0][1]) : { pass, ...Object.fromEntries(entries.map(([k, o]) => [k, json(o)])) };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else process.stdout.write(done.map(([, o]) => o.text).join('\n'));
  return pass ? 0 : 1;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'pull') return import('./model-pull.ts').then((m) => m.run(rest));
  if (sub === '--help' || sub === '-h' || sub === 'help') return help();
  const commands: Record<string, (a: string[]) => Promise<number>> = { build, check };
  const command = sub ? commands[sub] : undefined;
  return runCommand('model', usage, async () => {
    if (!command) throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand');
    return command(rest);
  });
}

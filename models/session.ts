// ONNX Runtime sessions on the first execution provider that works. onnxruntime does not fall
// back by itself: asking for a provider whose libraries are missing (a CPU-only install, no GPU,
// no TensorRT) makes session creation throw. So each configured provider is tried in order, and
// every failure gets one log line naming the provider and the reason. The providers and their
// settings come from the one table, models/runtime/execution-providers.ts.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { createLogger, type Logger } from '../util/log.ts';
import { UserError } from '../util/result.ts';
import {
  DEFAULT_PROVIDER_SETTINGS,
  EXECUTION_PROVIDER_TABLE,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  isExecutionProvider,
  type ProviderSettings,
} from './runtime/execution-providers.ts';
import { setProviderEnvironment } from './runtime/provider-environment.ts';
import { cachedEngineCount } from './runtime/tensorrt-engine-cache.ts';

/** How a TensorRT session starts: building an engine (minutes) or loading a cached one. */
export interface TensorrtStart {
  graph: string;
  cached: boolean;
}

export interface SessionFactoryOptions {
  /** Preference order, e.g. ['tensorrt', 'cuda', 'cpu']. */
  providers: readonly string[];
  /** Intra-op threads for the CPU provider; 0 or absent lets onnxruntime decide (one per core). */
  threads?: number;
  /** The providers' settings (model.tensorrt, model.cuda, the engine cache directory); the defaults when absent. */
  settings?: ProviderSettings;
  /** Told before a TensorRT session is created, so that a caller can say an engine is being built. */
  onTensorrtStart?: (start: TensorrtStart) => void;
  logger?: Logger;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The provider that was asked for first in the attempt that succeeded. */
  provider: ExecutionProvider;
}

export async function createSession(modelPath: string, opts: SessionFactoryOptions): Promise<CreatedSession> {
  const providers = checkProviders(opts.providers);
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 0)) {
    throw new UserError(`threads must be a whole number >= 0, not ${opts.threads}`);
  }
  await checkReadable(modelPath);
  const logger = opts.logger ?? createLogger('session');
  const settings = opts.settings ?? DEFAULT_PROVIDER_SETTINGS;
  // In the inference worker the Engine has set them from the main thread (a worker cannot).
  if (isMainThread) setProviderEnvironment(providers, settings);
  const model = path.basename(modelPath);
  const failures: string[] = [];

  // onnxruntime-common silently drops provider names this build does not know, which would make
  // a session look like it runs on a provider it does not use: those are skipped here, visibly.
  const built = new Set(ort.listSupportedBackends().map((b) => b.name));
  const fail = (i: number, reason: string) => {
    failures.push(`${providers[i]}: ${reason}`);
    const next = providers[i + 1];
    logger.warn(`${model}: execution provider ${providers[i]} unavailable (${reason})${next ? `; trying ${next}` : ''}`);
  };

  for (let i = 0; i < providers.length; i++) {
    if (!built.has(providers[i])) {
      fail(i, `not in this onnxruntime-node build, which has ${[...built].join(', ')}`);
      continue;
    }
    // The rest of the list goes along, so that nodes the first provider cannot run are placed
    // on the next one (TensorRT -> CUDA) rather than on the CPU.
    const attempt = providers.slice(i).filter((p) => built.has(p));
    try {
      const trt = attempt[0] === 'tensorrt' ? await announceTensorrt(model, settings, opts, logger) : null;
      const started = performance.now();
      const session = await ort.InferenceSession.create(modelPath, sessionOptions(attempt, settings, opts.threads));
      if (trt) await reportTensorrt(trt, (performance.now() - started) / 1000, settings, logger);
      logger.info(`${model}: running on ${attempt[0]}`, failures.length ? { unavailable: providers.slice(0, i) } : undefined);
      return { session, provider: attempt[0] };
    } catch (e) {
      const reason = firstLine(e);
      if (isModelError(reason)) {
        throw new UserError(`${modelPath} is not a loadable ONNX model: ${reason}`);
      }
      fail(i, reason);
    }
  }
  throw new UserError(`${modelPath}: no configured execution provider could run it (${failures.join('; ')})`);
}

async function announceTensorrt(graph: string, settings: ProviderSettings, opts: SessionFactoryOptions, logger: Logger): Promise<TensorrtStart> {
  const dir = settings.tensorrt.engine_cache ? settings.tensorrtCacheDir : null;
  // onnxruntime creates only the last level of the cache path.
  if (dir !== null) await fs.mkdir(dir, { recursive: true });
  const cached = dir !== null && (await cachedEngineCount(dir)) > 0;
  logger.info(
    cached
      ? `${graph}: loading the cached TensorRT engine from ${dir}`
      : `building TensorRT engine for ${graph} (${dir ? 'first start with this bundle' : 'engines are not cached here'}; this can take minutes)`,
  );
  opts.onTensorrtStart?.({ graph, cached });
  return { graph, cached };
}

async function reportTensorrt(start: TensorrtStart, seconds: number, settings: ProviderSettings, logger: Logger): Promise<void> {
  logger.info(`${start.graph}: ${start.cached ? 'cached TensorRT engine loaded' : 'TensorRT engine built'} in ${seconds.toFixed(1)} s`);
  const dir = settings.tensorrt.engine_cache ? settings.tensorrtCacheDir : null;
  if (dir !== null && !start.cached && (await cachedEngineCount(dir)) === 0) {
    // The npm binding hands TensorRT an options struct, so the ORT_TENSORRT_* cache variables are not read.
    logger.warn(
      `${start.graph}: no engine was written to ${dir}: this onnxruntime-node binding passed no engine cache setting to TensorRT (the npm package's never does), so the next start builds it again (README, GPU execution providers)`,
    );
  }
}

function checkProviders(names: readonly string[]): ExecutionProvider[] {
  if (names.length === 0) throw new UserError('the execution provider list is empty; use e.g. [tensorrt, cuda, cpu] or [cpu]');
  const unknown = names.filter((n) => !isExecutionProvider(n));
  if (unknown.length) {
    throw new UserError(`unknown execution provider ${unknown.map((n) => `'${n}'`).join(', ')}; known: ${EXECUTION_PROVIDERS.join(', ')}`);
  }
  return [...new Set(names as ExecutionProvider[])];
}

async function checkReadable(modelPath: string): Promise<void> {
  try {
    const stat = await fs.stat(modelPath);
    if (!stat.isFile()) throw new UserError(`${modelPath} is not a file`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot open model ${modelPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The options handed to onnxruntime: each provider's entry from the table (name, and device id for the GPU ones). */
export function sessionOptions(providers: readonly ExecutionProvider[], settings: ProviderSettings, threads?: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: providers.map((p) => EXECUTION_PROVIDER_TABLE[p].nativeEntry(settings)),
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    // Idle pool threads would otherwise spin after each run, taking the cores that the camera
    // decoders, MQTT and a re-tune need on a small device; measured no slower on the model itself.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

// Failures of the model itself (unreadable, not ONNX, invalid graph) are the same on every
// provider; onnxruntime reports them as "Load model from ... failed" or as graph errors.
function isModelError(reason: string): boolean {
  return /^Load model from|Protobuf parsing failed|ModelProto does not have a graph|\[ONNXRuntimeError\] : 10 : INVALID_GRAPH/.test(reason);
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0].trim();
}

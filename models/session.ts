// ONNX Runtime sessions on the first execution provider that works. onnxruntime does not fall
// back by itself: asking for a provider whose libraries are missing (a CPU-only install, no GPU,
// no TensorRT) makes session creation throw. So each configured provider is tried in order, and
// every failure gets one log line naming the provider and the reason.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { createLogger, type Logger } from '../util/log.ts';
import { UserError } from '../util/result.ts';

/** Provider names accepted in the configuration, in onnxruntime-node's spelling. */
export const EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'cpu', 'dml', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface SessionFactoryOptions {
  /** Preference order, e.g. ['tensorrt', 'cuda', 'cpu']. */
  providers: string[];
  /** Intra-op threads for the CPU provider; 0 or absent lets onnxruntime decide (one per core). */
  threads?: number;
  /** GPU index for tensorrt / cuda / dml (onnxruntime-node passes no other provider option). */
  deviceId?: number;
  logger?: Logger;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The provider that was asked for first in the attempt that succeeded. */
  provider: ExecutionProvider;
}

export function isExecutionProvider(name: string): name is ExecutionProvider {
  return (EXECUTION_PROVIDERS as readonly string[]).includes(name);
}

export async function createSession(modelPath: string, opts: SessionFactoryOptions): Promise<CreatedSession> {
  const providers = checkProviders(opts.providers);
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 0)) {
    throw new UserError(`threads must be a whole number >= 0, not ${opts.threads}`);
  }
  await checkReadable(modelPath);
  const logger = opts.logger ?? createLogger('session');
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
      const session = await ort.InferenceSession.create(modelPath, sessionOptions(attempt, opts));
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

function checkProviders(names: string[]): ExecutionProvider[] {
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

function sessionOptions(providers: ExecutionProvider[], opts: SessionFactoryOptions): ort.InferenceSession.SessionOptions {
  const withDevice = (name: ExecutionProvider) =>
    opts.deviceId !== undefined && name !== 'cpu' && name !== 'coreml' ? { name, deviceId: opts.deviceId } : name;
  return {
    executionProviders: providers.map(withDevice),
    graphOptimizationLevel: 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
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

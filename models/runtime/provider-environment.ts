// Sets the providers' environment variables where native code can read them. onnxruntime reads
// them with getenv(), from the process environment; a worker thread's process.env is a copy whose
// changes native code never sees (unless the worker was made with SHARE_ENV), while the main
// thread's process.env writes through to the process environment. So this refuses to run in a
// worker: the inference worker's Engine sets them from the main thread before asking for a session.
import { isMainThread } from 'node:worker_threads';
import { type ExecutionProvider, type ProviderSettings, providerEnvironment } from './execution-providers.ts';

/** Writes the variables for a session on `providers` into the process environment; returns them. */
export function setProviderEnvironment(providers: readonly ExecutionProvider[], settings: ProviderSettings): Record<string, string> {
  if (!isMainThread) {
    throw new Error("execution provider variables must be set from the main thread: a worker's process.env does not reach onnxruntime");
  }
  const vars = providerEnvironment(providers, settings);
  Object.assign(process.env, vars);
  return vars;
}

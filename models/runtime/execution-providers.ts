// The one table of execution providers: their names (the configuration's, which are also
// onnxruntime-node's), which configuration settings each one takes, and how those settings reach
// onnxruntime. The configuration schema, the session factory and the tuning jobs all read it, so a
// new provider or option is one row here (Frigate keeps the same single table in
// frigate/util/model.py, get_ort_providers()).
//
// What reaches onnxruntime from JavaScript (onnxruntime-node 1.30, js/node/src/session_options_helper.cc,
// ParseExecutionProviders): a provider name and `deviceId` for cuda and tensorrt, nothing else. The
// TensorRT options are also written as the ORT_TENSORRT_* environment variables, but the binding
// always appends TensorRT with an options struct (AppendExecutionProvider_TensorRT_V2), and the
// TensorRT provider reads those variables only when it is appended without one (has_trt_options is
// false): with the npm binding they are not applied; the binding deploy/Dockerfile.jetson builds is
// patched to append it by device id alone, and there they are. See the README, "GPU execution providers".
//
// dml (Windows) and coreml (macOS) are not rows: this agent targets Linux, and the Linux build of
// onnxruntime-node has neither (its binding has no "dml" or "coreml" branch).

/** model.tensorrt in the configuration. */
export interface TensorrtSettings {
  fp16: boolean;
  engine_cache: boolean;
  /** Orin's DLA core, or null for the GPU. */
  dla_core: 0 | 1 | null;
  /** null: onnxruntime's default (1 GiB). */
  workspace_mb: number | null;
}

/** model.cuda in the configuration (also the GPU that TensorRT runs on). */
export interface CudaSettings {
  device_id: number;
}

/** What the providers need besides their names: the configuration's settings and where the engine cache goes. */
export interface ProviderSettings {
  tensorrt: TensorrtSettings;
  cuda: CudaSettings;
  /** <data_dir>/trt-cache/<bundle id>/, or null when engines are not cached (tuning, checks). */
  tensorrtCacheDir: string | null;
}

export const DEFAULT_TENSORRT: TensorrtSettings = { fp16: true, engine_cache: true, dla_core: null, workspace_mb: null };
export const DEFAULT_CUDA: CudaSettings = { device_id: 0 };
/** Settings for callers without a configuration (CLI tools, checks): the defaults, no engine cache directory. */
export const DEFAULT_PROVIDER_SETTINGS: ProviderSettings = { tensorrt: DEFAULT_TENSORRT, cuda: DEFAULT_CUDA, tensorrtCacheDir: null };

/** onnxruntime-node's executionProviders entry: a name, or a name with the device id. */
export type NativeProviderEntry = string | { name: string; deviceId: number };

interface ProviderRow {
  /** The entry of sessionOptions.executionProviders: what the binding really passes to onnxruntime. */
  nativeEntry(settings: ProviderSettings): NativeProviderEntry;
  /** Environment variables onnxruntime documents for this provider, from the settings. */
  environment(settings: ProviderSettings): Record<string, string>;
}

const flag = (on: boolean) => (on ? '1' : '0');

function tensorrtEnvironment({ tensorrt, tensorrtCacheDir }: ProviderSettings): Record<string, string> {
  const cache = tensorrt.engine_cache && tensorrtCacheDir !== null;
  return {
    ORT_TENSORRT_FP16_ENABLE: flag(tensorrt.fp16),
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: flag(cache),
    ORT_TENSORRT_TIMING_CACHE_ENABLE: flag(cache),
    ...(cache ? { ORT_TENSORRT_CACHE_PATH: tensorrtCacheDir } : {}),
    ORT_TENSORRT_DLA_ENABLE: flag(tensorrt.dla_core !== null),
    ...(tensorrt.dla_core !== null ? { ORT_TENSORRT_DLA_CORE: String(tensorrt.dla_core) } : {}),
    ...(tensorrt.workspace_mb !== null ? { ORT_TENSORRT_MAX_WORKSPACE_SIZE: String(tensorrt.workspace_mb * 2 ** 20) } : {}),
  };
}

export const EXECUTION_PROVIDER_TABLE = {
  tensorrt: {
    nativeEntry: (s) => ({ name: 'tensorrt', deviceId: s.cuda.device_id }),
    environment: tensorrtEnvironment,
  },
  cuda: {
    nativeEntry: (s) => ({ name: 'cuda', deviceId: s.cuda.device_id }),
    environment: () => ({}),
  },
  cpu: {
    nativeEntry: () => 'cpu',
    environment: () => ({}),
  },
} as const satisfies Record<string, ProviderRow>;

export type ExecutionProvider = keyof typeof EXECUTION_PROVIDER_TABLE;
export const EXECUTION_PROVIDERS = Object.keys(EXECUTION_PROVIDER_TABLE) as ExecutionProvider[];

export function isExecutionProvider(name: string): name is ExecutionProvider {
  return Object.hasOwn(EXECUTION_PROVIDER_TABLE, name);
}

/** The variables to set before creating a session on `providers` (every provider's, merged). */
export function providerEnvironment(providers: readonly ExecutionProvider[], settings: ProviderSettings): Record<string, string> {
  return Object.assign({}, ...providers.map((p) => EXECUTION_PROVIDER_TABLE[p].environment(settings)));
}

/** Providers for a tuning job: the configured ones, with the CPU last so that a graph a GPU provider cannot run still runs. */
export function withCpuFallback(providers: readonly ExecutionProvider[]): ExecutionProvider[] {
  return [...new Set([...providers, 'cpu' as const])];
}

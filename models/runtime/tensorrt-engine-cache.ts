// Where a bundle's TensorRT engines are cached, and whether one is there. Building an engine takes
// minutes, so the agent says which of the two a session start will be. The directory is keyed by
// the bundle's identity (its name and manifest hash): a new or rebuilt bundle gets an empty
// directory and never meets an engine built for other weights.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { PromptSet } from '../../tuning/prompt-set.ts';

export function tensorrtCacheDir(dataDir: string, bundle: PromptSet['bundle']): string {
  return path.join(dataDir, 'trt-cache', `${bundle.id}-${bundle.sha256.slice(0, 16)}`);
}

/** Engine files (onnxruntime names them *.engine) in `dir`; 0 when it is missing. */
export async function cachedEngineCount(dir: string): Promise<number> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.engine')).length;
}

// What a prompt set records as the bundle it was tuned for. The manifest lists the sha256 of
// every other file of the bundle, so the sha256 of manifest.json identifies the whole bundle:
// rebuilding from other weights or with other options (layers, LAA, image size) changes it.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Bundle } from '../models/bundle/load.ts';
import { MANIFEST_FILE } from '../models/bundle/manifest.ts';
import type { PromptSet } from './prompt-set.ts';

export async function bundleIdentity(bundle: Bundle): Promise<PromptSet['bundle']> {
  const sha256 = createHash('sha256')
    .update(await fs.readFile(path.join(bundle.dir, MANIFEST_FILE)))
    .digest('hex');
  return { id: path.basename(bundle.dir), sha256 };
}

/** Null when `set` fits `bundle`, else why not. */
export function bundleMismatch(set: PromptSet, bundle: PromptSet['bundle']): string | null {
  if (set.bundle.sha256 === bundle.sha256) return null;
  return `prompt set ${set.id} was tuned for bundle '${set.bundle.id}' (manifest sha256 ${set.bundle.sha256.slice(0, 12)}…), not for '${bundle.id}' (${bundle.sha256.slice(0, 12)}…)`;
}

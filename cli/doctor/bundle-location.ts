// Where `model.bundle` points on disk, without building or pulling anything (the agent does that
// at first start): the bundle and prompt-store checks both need it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../../agent/config.ts';
import { DEMO_BUNDLE, hubBundleDir, installedBundles } from '../../agent/model/model-resolver.ts';
import { MANIFEST_FILE } from '../../models/bundle/manifest.ts';

export type BundleLocation =
  | { kind: 'present'; dir: string; demo: boolean }
  /** Not there yet; the agent builds it at first start. */
  | { kind: 'built at start'; dir: string; how: string }
  | { kind: 'missing'; dir: string };

export async function locateBundle(config: AgentConfig): Promise<BundleLocation> {
  const { bundle, precision } = config.model;
  const present = (dir: string) => existsSync(path.join(dir, MANIFEST_FILE));
  if (bundle.kind === 'dir') return present(bundle.path) ? { kind: 'present', dir: bundle.path, demo: false } : { kind: 'missing', dir: bundle.path };
  if (bundle.kind === 'hub') {
    const dir = hubBundleDir(bundle.repo, precision, config.data_dir);
    return present(dir)
      ? { kind: 'present', dir, demo: false }
      : { kind: 'built at start', dir, how: `pulled from the Hugging Face hub (${bundle.repo}) and built at first start` };
  }
  const root = path.join(config.data_dir, 'bundles');
  const [newest] = await installedBundles(root);
  if (newest) return { kind: 'present', dir: newest, demo: false };
  const demo = path.join(root, DEMO_BUNDLE);
  return present(demo)
    ? { kind: 'present', dir: demo, demo: true }
    : { kind: 'built at start', dir: demo, how: 'the DEMO bundle (random weights) is built at first start' };
}

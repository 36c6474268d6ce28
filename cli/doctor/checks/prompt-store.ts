// The prompt store under data_dir: whether the current set is valid and was tuned for the bundle
// in use. Either problem only degrades the agent (it falls back to another set or to the meta
// prompts zero-shot), so these are warnings with the re-tune that fixes them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBundle } from '../../../models/bundle/load.ts';
import { bundleIdentity, bundleMismatch } from '../../../tuning/bundle-identity.ts';
import { CURRENT_FILE, PromptStore } from '../../../tuning/prompt-store.ts';
import { locateBundle } from '../bundle-location.ts';
import { type Check, ok, warn } from '../check.ts';

const retune = (configFile: string) => `re-tune: 'linewatch retune --config ${configFile}' against the running agent (or the page's re-tune button)`;

export const promptStoreCheck: Check = {
  name: 'prompt store',
  timeoutMs: 10_000,
  async run({ config, configFile }) {
    const retuneAction = retune(configFile);
    const store = new PromptStore(path.join(config.data_dir, 'prompts'));
    if (!existsSync(path.join(store.dir, CURRENT_FILE)) && (await store.list()).length === 0) {
      return ok(`${store.dir}: no tuned prompt set yet (meta prompts zero-shot until the first re-tune)`);
    }
    const current = await store.loadCurrent();
    if (!current.ok) return warn(`${current.error}; the agent scores with the meta prompts zero-shot`, retuneAction);
    const { set, warning } = current.value;
    if (warning) return warn(warning, `${retuneAction} makes a fresh set current; or write a valid accepted set id into ${path.join(store.dir, CURRENT_FILE)}`);
    const where = await locateBundle(config);
    if (where.kind !== 'present') return warn(`current set ${set.id}; the bundle it was tuned for is not installed yet`, retuneAction);
    const bundle = await loadBundle(where.dir, { verify: false });
    if (!bundle.ok) return warn(`current set ${set.id}; cannot read the bundle to compare: ${bundle.error}`, 'fix the bundle (see the bundle line)');
    const mismatch = bundleMismatch(set, await bundleIdentity(bundle.value));
    return mismatch
      ? warn(`${mismatch}; the agent scores with the meta prompts`, retuneAction)
      : ok(`current set ${set.id}, tuned for bundle ${set.bundle.id}`);
  },
};

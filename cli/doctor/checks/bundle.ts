// The model bundle: present, its manifest valid, and every file matching its sha256 (the same
// verification the agent does at start, via loadBundle), so a truncated copy is found before the
// agent refuses to start.
import { loadBundle } from '../../../models/bundle/load.ts';
import { locateBundle } from '../bundle-location.ts';
import { type Check, fail, ok, warn } from '../check.ts';

const BUILD = "build one with 'linewatch model build --weights DIR --out DIR' and point model.bundle at it";

export const bundleCheck: Check = {
  name: 'bundle',
  // A float32 ViT-L bundle is over a gigabyte to hash on a small device.
  timeoutMs: 120_000,
  async run({ config }) {
    const where = await locateBundle(config);
    if (where.kind === 'built at start') return ok(`${where.dir}: ${where.how}`);
    if (where.kind === 'missing') return fail(`${where.dir} is not a model bundle (no manifest.json)`, BUILD);
    const bundle = await loadBundle(where.dir);
    if (!bundle.ok) return fail(bundle.error, `rebuild or copy the bundle again (${BUILD})`);
    const files = Object.keys(bundle.value.manifest.checksums).length;
    const what = `${bundle.value.dir}: ${files} files match their checksums`;
    return where.demo
      ? warn(
          `${what}; it is the DEMO bundle (random weights)`,
          'for real inspection see the demo block of the agent log: model pull + model build, then set model.bundle',
        )
      : ok(what);
  },
};

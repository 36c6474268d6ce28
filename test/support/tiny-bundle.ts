// A bundle built from the tiny CLIP fixture (a few seconds): what every test that needs real
// graphs runs against.
import { type BuildOptions, buildBundle } from '../../models/bundle/build.ts';
import { TINY_CLIP } from './paths.ts';

/** Builds the fixture into `out`; throws with the builder's reason. */
export async function buildTinyBundle(out: string, options: Pick<BuildOptions, 'laa' | 'precision'> = {}): Promise<string> {
  const built = await buildBundle({ weights: TINY_CLIP, out, ...options });
  if (!built.ok) throw new Error(`cannot build the tiny bundle: ${built.error}`);
  return out;
}

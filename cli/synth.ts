// `linewatch synth`: write OAGM synthetic anomalies for a folder of normal images (tuning/synth-job.ts).

import { runSynthJob } from '../tuning/synth-job.ts';
import { UserError } from '../util/result.ts';
import { parseOptions, required, runCommand, wholeNumber } from './args.ts';
import { PROVIDERS_USAGE, providersOption } from './providers-option.ts';

const usage = `usage: linewatch synth --bundle DIR --images DIR --out DIR [--count N] [--seed S] [--providers LIST] [--no-object-mask]

Shows what OAGM (object-attention anomaly generation) makes of normal images: writes each
synthetic image, its ground-truth mask (_mask.png) and the object region it was placed in
(_object.png) as PNG, samples.json, and contact-sheet.png with one row per sample:
normal | synthetic | mask in red (object region outlined in green).

  --bundle DIR        model bundle (its class-token attention locates the object)
  --images DIR        normal images (png, jpg, jpeg, bmp, tif, webp; not recursive)
  --out DIR           output directory (created if missing)
  --count N           synthetic images (default: 2 per image, at least 8)
  --seed S            seed (default 0); the same seed gives the same images
${PROVIDERS_USAGE}
  --no-object-mask    place defects anywhere in the frame (ablation)

Exit codes: 0 success, 1 failure, 2 usage error.
`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('synth', usage, async () => {
    const values = parseOptions(argv, {
      bundle: { type: 'string' },
      images: { type: 'string' },
      out: { type: 'string' },
      count: { type: 'string' },
      seed: { type: 'string' },
      providers: { type: 'string' },
      'no-object-mask': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const result = await runSynthJob({
      bundleDir: required('bundle', values.bundle),
      imagesDir: required('images', values.images),
      outDir: required('out', values.out),
      count: wholeNumber('count', values.count, 1),
      seed: wholeNumber('seed', values.seed),
      providers: providersOption(values.providers),
      useObjectMask: !values['no-object-mask'],
    });
    if (!result.ok) throw new UserError(result.error);
    process.stdout.write(`${result.value.samples.length} synthetic images with masks in ${values.out}\n${result.value.contactSheet}\n`);
    return 0;
  });
}

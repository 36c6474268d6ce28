// `linewatch synth`: what OAGM makes of a folder of normal images, written out for a person to
// look at: each synthetic image, its ground-truth mask and the object region it was placed in
// (from the class-token attention) as PNG, a contact sheet with one row per
// sample (normal | synthetic | mask in red over the synthetic image, object region outlined in
// green), and samples.json (source file, perturbation kinds, object coverage).
// Images are synthesised at the bundle's input size, as tuning does.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ExecutionProvider } from '../models/runtime/execution-providers.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { err, ok, type Result } from '../util/result.ts';
import { outlineMask, tileGrid, tintMask } from './image/overlay.ts';
import { encodeMaskPng, encodePng, listImageFiles, readRgbImages } from './images.ts';
import { synthesizeFrom, syntheticCount } from './learn-prompts.ts';
import { openTuningModels } from './tuning-models.ts';

/** Rows in the contact sheet at most; further samples are written but not shown there. */
export const CONTACT_SHEET_ROWS = 48;
export const CONTACT_SHEET_FILE = 'contact-sheet.png';

export interface SynthJobOptions {
  bundleDir: string;
  imagesDir: string;
  outDir: string;
  /** Default: 2 per image, at least 8. */
  count?: number;
  seed?: number;
  /** false: the whole frame is the object (the OAGM ablation). */
  useObjectMask?: boolean;
  /** Execution providers to try, in order (the agent passes model.execution_providers); cpu is added last. Default: cpu. */
  providers?: ExecutionProvider[];
}

export interface SynthJobResult {
  samples: { image: string; mask: string; object: string; source: string }[];
  contactSheet: string;
}

export async function runSynthJob(options: SynthJobOptions): Promise<Result<SynthJobResult>> {
  const files = await listImageFiles(options.imagesDir);
  if (!files.ok) return err(`images: ${files.error}`);
  if (files.value.length === 0) return err(`no images (png, jpg, jpeg, bmp, tif, webp) in ${options.imagesDir}`);
  const models = await openTuningModels(options.bundleDir, { providers: options.providers });
  if (!models.ok) return models;
  try {
    const { vision, metaTextEmbeds } = models.value;
    const images = await readRgbImages(files.value, vision.size);
    if (!images.ok) return images;
    const analysed = { images: images.value, vision: await vision.run(images.value, metaTextEmbeds) };
    const count = options.count ?? syntheticCount(files.value.length);
    const indices = files.value.map((_, i) => i);
    const samples = synthesizeFrom(analysed, indices, count, options.seed ?? 0, { object: { useObjectMask: options.useObjectMask ?? true } });

    await fs.mkdir(options.outDir, { recursive: true });
    const written: SynthJobResult['samples'] = [];
    const rows = [];
    for (const [i, s] of samples.entries()) {
      const source = files.value[s.source];
      const stem = `${String(i).padStart(4, '0')}-${path.parse(source).name}`;
      const image = path.join(options.outDir, `${stem}.png`);
      const mask = path.join(options.outDir, `${stem}_mask.png`);
      const object = path.join(options.outDir, `${stem}_object.png`);
      await fs.writeFile(image, await encodePng(s.image));
      await fs.writeFile(mask, await encodeMaskPng(s.mask, s.image.width, s.image.height));
      await fs.writeFile(object, await encodeMaskPng(s.object.mask, s.image.width, s.image.height));
      written.push({ image, mask, object, source });
      if (rows.length < CONTACT_SHEET_ROWS) {
        const overlay = tintMask(s.object.wholeFrame ? s.image : outlineMask(s.image, s.object.mask, [0, 220, 0]), s.mask, [255, 0, 0], 0.55);
        rows.push([images.value[s.source], s.image, overlay]);
      }
    }
    const contactSheet = path.join(options.outDir, CONTACT_SHEET_FILE);
    await fs.writeFile(contactSheet, await encodePng(tileGrid(rows, 4)));
    const described = samples.map((s, i) => ({
      image: path.basename(written[i].image),
      mask: path.basename(written[i].mask),
      object: path.basename(written[i].object),
      source: written[i].source,
      kinds: s.kinds,
      object_coverage: s.object.coverage,
      whole_frame: s.object.wholeFrame,
      mask_pixels: s.mask.reduce((a, v) => a + v, 0),
    }));
    await writeFileAtomic(
      path.join(options.outDir, 'samples.json'),
      `${JSON.stringify({ seed: options.seed ?? 0, object_mask: options.useObjectMask ?? true, samples: described }, null, 2)}\n`,
    );
    return ok({ samples: written, contactSheet });
  } finally {
    await models.value.release();
  }
}

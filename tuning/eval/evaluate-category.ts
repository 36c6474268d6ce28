// One MVTec-AD category: prompts (tuned on K normal shots from train/good, or a given prompt
// set), anomaly maps and scores for every test image through vision.onnx, and the image and
// pixel metrics. Maps are upsampled (bilinear) from the model's input size to each ground-truth
// mask's size, so pixel metrics are computed at the resolution the dataset annotates.
import { err, ok, type Result } from '../../util/result.ts';
import { resizeBilinear } from '../image/bilinear.ts';
import { heatOverlay, outlineMask } from '../image/overlay.ts';
import { encodePng, imageSize, readMask, readRgbImage, readRgbImages } from '../images.ts';
import { derivedSeed, emptyTimings, learnPrompts, synthesizeFrom, syntheticCount, timed, type PhaseTimings } from '../learn-prompts.ts';
import { imageMetrics, pixelMetrics, type CurvePoint, type PixelSample } from '../metrics.ts';
import { textEmbedsOf, type PromptSet } from '../prompt-set.ts';
import { createRng } from '../rng.ts';
import type { Guidance } from '../train.ts';
import type { TuningModels } from '../tuning-models.ts';
import type { Category, TestImage } from './mvtec-dataset.ts';

export const METRIC_KEYS = ['image_auroc', 'image_ap', 'image_f1max', 'pixel_auroc', 'pro', 'pixel_f1max'] as const;
export type CategoryMetrics = Record<(typeof METRIC_KEYS)[number], number>;

/** How prompts are learned for a category (unless a prompt set is given). */
export interface ShotTuning {
  /** K normal shots from train/good (ignored with a prompt set). */
  shots: number;
  seed: number;
  steps: number;
  guidance: Guidance;
  lambda: number;
  useObjectMask: boolean;
}

export interface EvalOptions extends ShotTuning {
  /** Score with this set instead of tuning. */
  promptSet: PromptSet | null;
  /** Overlay thumbnails for the report. */
  thumbnails: number;
  thumbnailSize: number;
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface Thumbnail {
  path: string;
  type: string;
  score: number;
  png: Buffer;
}

export interface EvalTimings extends PhaseTimings {
  inference: number;
  metrics: number;
}

export interface CategoryResult {
  name: string;
  metrics: CategoryMetrics;
  scores: { path: string; label: 0 | 1; score: number }[];
  curves: { imageRoc: CurvePoint[]; pixelRoc: CurvePoint[]; pro: CurvePoint[] };
  thumbnails: Thumbnail[];
  /** Shot files tuned on (empty with a prompt set). */
  shots: string[];
  timings: EvalTimings;
}

const BATCH = 8;
const SHOT_STREAM = 11;
const SYNTHESIS_STREAM = 12;

/** K train/good files chosen by `seed` (the same seed picks the same shots). */
export function chooseShots(train: string[], shots: number, seed: number): string[] {
  const order = [...train];
  const rng = createRng(seed, SHOT_STREAM);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, shots).sort();
}

export async function evaluateCategory(models: TuningModels, category: Category, options: EvalOptions): Promise<Result<CategoryResult>> {
  const anomalous = category.test.filter((t) => t.label === 1).length;
  const normal = category.test.length - anomalous;
  if (anomalous === 0 || normal === 0) {
    return err(`category ${category.name}: the test set has ${normal} good and ${anomalous} defective images; the metrics need both`);
  }
  const timings: EvalTimings = { ...emptyTimings(), inference: 0, metrics: 0 };
  const progress = options.onProgress ?? (() => {});
  let textEmbeds: Float32Array;
  let shots: string[] = [];
  if (options.promptSet) {
    textEmbeds = textEmbedsOf(options.promptSet);
  } else {
    if (!(options.shots >= 1 && options.shots <= category.train.length)) {
      return err(`category ${category.name}: ${options.shots} shots asked for, train/good has ${category.train.length} images`);
    }
    shots = chooseShots(category.train, options.shots, options.seed);
    const tuned = await tuneOnShots(models, shots, options, timings);
    if (!tuned.ok) return tuned;
    textEmbeds = tuned.value;
  }

  const { vision } = models;
  const size = vision.size;
  const samples: PixelSample[] = [];
  const maps: Float32Array[] = [];
  const scores: number[] = [];
  for (let first = 0; first < category.test.length; first += BATCH) {
    const batch = category.test.slice(first, first + BATCH);
    const images = await readRgbImages(batch.map((t) => t.path), size);
    if (!images.ok) return images;
    const out = await timed(timings, 'inference', () => vision.run(images.value, textEmbeds, { anomalyMaps: true }));
    for (const [b, test] of batch.entries()) {
      const map = out.anomalyMaps!.slice(b * size * size, (b + 1) * size * size);
      const truth = await groundTruth(test);
      if (!truth.ok) return truth;
      const { width, height, mask } = truth.value;
      samples.push({ width, height, mask, scores: resizeBilinear(map, size, size, width, height) });
      maps.push(map);
      scores.push(out.anomalyScores[b]);
    }
    progress('test images', first + batch.length, category.test.length);
  }

  const labels = category.test.map((t) => t.label);
  const measured = await timed(timings, 'metrics', () => {
    const image = imageMetrics(scores, labels);
    const pixel = image.ok ? pixelMetrics(samples) : null;
    return { image, pixel };
  });
  if (!measured.image.ok) return err(`category ${category.name}: ${measured.image.error}`);
  if (!measured.pixel!.ok) return err(`category ${category.name}: ${measured.pixel!.error}`);
  const image = measured.image.value;
  const pixel = measured.pixel!.value;
  return ok({
    name: category.name,
    metrics: { image_auroc: image.auroc, image_ap: image.ap, image_f1max: image.f1max, pixel_auroc: pixel.auroc, pro: pixel.pro, pixel_f1max: pixel.f1max },
    scores: category.test.map((t, i) => ({ path: t.path, label: t.label, score: scores[i] })),
    curves: { imageRoc: image.roc, pixelRoc: pixel.roc, pro: pixel.proCurve },
    thumbnails: await thumbnails(category.test, maps, scores, size, options),
    shots,
    timings,
  });
}

/** Prompt learning on the shots, as `linewatch tune` learns (without the held-out split: eval uses every shot). */
async function tuneOnShots(models: TuningModels, shots: string[], options: EvalOptions, timings: PhaseTimings): Promise<Result<Float32Array>> {
  const { vision } = models;
  const progress = options.onProgress ?? (() => {});
  const images = await readRgbImages(shots, vision.size);
  if (!images.ok) return images;
  const count = syntheticCount(shots.length);
  const normals = {
    images: images.value,
    vision: await timed(timings, 'features', () =>
      vision.run(images.value, models.metaTextEmbeds, { patchEmbeds: true, onImages: (done) => progress('synthesis', done, shots.length + count) }),
    ),
  };
  const indices = shots.map((_, i) => i);
  const synthetic = await timed(timings, 'synthesis', () =>
    synthesizeFrom(normals, indices, count, derivedSeed(options.seed, SYNTHESIS_STREAM), { object: { useObjectMask: options.useObjectMask } }),
  );
  progress('synthesis', shots.length + count, shots.length + count);
  const trained = await learnPrompts(
    models,
    normals,
    indices,
    synthetic,
    {
      steps: options.steps,
      seed: options.seed,
      guidance: options.guidance,
      lambda: options.lambda,
      onFeatures: (done, total) => progress('features', done, total),
      onStep: (r) => progress('steps', r.step, r.steps),
    },
    timings,
  );
  return ok(trained.textEmbeds);
}

async function groundTruth(test: TestImage): Promise<Result<{ width: number; height: number; mask: Uint8Array }>> {
  if (test.mask) {
    const mask = await readMask(test.mask);
    if (!mask.ok) return mask;
    const own = await imageSize(test.path);
    if (own.ok && (own.value.width !== mask.value.width || own.value.height !== mask.value.height)) {
      return err(`${test.mask} is ${mask.value.width}x${mask.value.height} but ${test.path} is ${own.value.width}x${own.value.height}`);
    }
    return mask;
  }
  const own = await imageSize(test.path);
  if (!own.ok) return own;
  return ok({ ...own.value, mask: new Uint8Array(own.value.width * own.value.height) });
}

/** Up to options.thumbnails test images spread evenly over the (type-sorted) test list, as overlays. */
async function thumbnails(tests: TestImage[], maps: Float32Array[], scores: number[], size: number, options: EvalOptions): Promise<Thumbnail[]> {
  const count = Math.min(options.thumbnails, tests.length);
  if (count === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const map of maps) for (const v of map) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const t = options.thumbnailSize;
  const out: Thumbnail[] = [];
  for (let k = 0; k < count; k++) {
    const i = Math.floor((k * tests.length) / count);
    const image = await readRgbImage(tests[i].path, t);
    if (!image.ok) continue; // it was read for scoring a moment ago; a thumbnail is not worth failing the run
    let picture = heatOverlay(image.value, resizeBilinear(maps[i], size, size, t, t), lo, hi, 0.45);
    if (tests[i].mask) {
      const truth = await readMask(tests[i].mask!);
      if (truth.ok) picture = outlineMask(picture, nearest(truth.value.mask, truth.value.width, truth.value.height, t, t), [0, 255, 0]);
    }
    out.push({ path: tests[i].path, type: tests[i].type, score: scores[i], png: await encodePng(picture) });
  }
  return out;
}

function nearest(mask: Uint8Array, width: number, height: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / h));
    for (let x = 0; x < w; x++) out[y * w + x] = mask[sy * width + Math.min(width - 1, Math.floor(((x + 0.5) * width) / w))];
  }
  return out;
}

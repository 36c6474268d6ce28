// One MVTec-AD category: prompts and a memory bank (tuned on K normal shots from train/good, or
// a given prompt set with its bank), anomaly maps and scores for every test image through
// vision.onnx and memory.onnx, and the image and pixel metrics of every scorer used: `prompt`,
// `memory`, or `both` (which reports all three: prompt, memory and their combination, the rule
// of tuning/combine-scores.ts). Maps are upsampled (bilinear) from the model's input size to each
// ground-truth mask's size, so pixel metrics are computed at the resolution the dataset annotates.
//
// Combining needs each scorer's scale. A prompt set carries both calibrations; when tuning on the
// shots (eval has no held-out split) the scales come from the shots and their synthetic (OAGM)
// anomalies, scored once more after tuning: only min and max matter here, the metrics need no
// threshold.
import { err, ok, type Result } from '../../util/result.ts';
import { calibrate, type ScoreScale } from '../calibration.ts';
import { combineScorerMaps, mapMax } from '../combine-scores.ts';
import { resizeBilinear } from '../image/bilinear.ts';
import { heatOverlay, outlineMask } from '../image/overlay.ts';
import type { RgbImage } from '../image/rgb-image.ts';
import { encodePng, imageSize, readMask, readRgbImage, readRgbImages } from '../images.ts';
import { derivedSeed, emptyTimings, learnPrompts, type PhaseTimings, synthesizeFrom, syntheticCount, timed } from '../learn-prompts.ts';
import { buildMemoryBank, DEFAULT_MAX_PATCHES, type MemoryBank } from '../memory-bank.ts';
import { type CurvePoint, imageMetrics, type PixelMetrics, pixelMetrics, type RankingMetrics } from '../metrics.ts';
import { type PromptSet, textEmbedsOf } from '../prompt-set.ts';
import { createRng } from '../rng.ts';
import type { Guidance } from '../train.ts';
import type { TuningModels } from '../tuning-models.ts';
import type { Category, TestImage } from './mvtec-dataset.ts';

export const METRIC_KEYS = ['image_auroc', 'image_ap', 'image_f1max', 'pixel_auroc', 'pro', 'pixel_f1max'] as const;
export type CategoryMetrics = Record<(typeof METRIC_KEYS)[number], number>;

export const SCORER_CHOICES = ['prompt', 'memory', 'both'] as const;
export type ScorerChoice = (typeof SCORER_CHOICES)[number];
/** What a run reports on: `both` reports the two scorers and their combination. */
export type ReportedScorer = ScorerChoice;
export function reportedScorers(choice: ScorerChoice): ReportedScorer[] {
  return choice === 'both' ? ['prompt', 'memory', 'both'] : [choice];
}

/** A given prompt set and, when it has one, its verified memory bank. */
export interface GivenPrompts {
  set: PromptSet;
  memory: MemoryBank | null;
}

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
  /** Score with this set (and its bank) instead of tuning. */
  promptSet: GivenPrompts | null;
  scorer: ScorerChoice;
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
  /** The chosen scorer's (for `both`: the combination); scores, curves and thumbnails are its too. */
  metrics: CategoryMetrics;
  /** Every scorer reported on. */
  byScorer: Partial<Record<ReportedScorer, CategoryMetrics>>;
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

/** What scores the test images: text embeddings, the bank, and each scorer's scale. */
interface Scoring {
  textEmbeds: Float32Array;
  memory: MemoryBank | null;
  scales: { prompt: ScoreScale; memory: ScoreScale } | null;
}

interface ScorerRun {
  maps: Float32Array[];
  scores: number[];
}

export async function evaluateCategory(models: TuningModels, category: Category, options: EvalOptions): Promise<Result<CategoryResult>> {
  const anomalous = category.test.filter((t) => t.label === 1).length;
  const normal = category.test.length - anomalous;
  if (anomalous === 0 || normal === 0) {
    return err(`category ${category.name}: the test set has ${normal} good and ${anomalous} defective images; the metrics need both`);
  }
  const usesMemory = options.scorer !== 'prompt';
  if (usesMemory && !models.memory) return err(`--scorer ${options.scorer}: ${models.memoryMissing}`);
  const timings: EvalTimings = { ...emptyTimings(), inference: 0, metrics: 0 };
  const progress = options.onProgress ?? (() => {});
  let scoring: Scoring;
  let shots: string[] = [];
  if (options.promptSet) {
    const { set, memory } = options.promptSet;
    if (usesMemory && !memory)
      return err(`--scorer ${options.scorer}: prompt set ${set.id} has no memory bank (tune it again with a bundle that has memory.onnx)`);
    scoring = { textEmbeds: textEmbedsOf(set), memory, scales: set.memory ? { prompt: set.calibration, memory: set.memory.calibration } : null };
  } else {
    if (!(options.shots >= 1 && options.shots <= category.train.length)) {
      return err(`category ${category.name}: ${options.shots} shots asked for, train/good has ${category.train.length} images`);
    }
    shots = chooseShots(category.train, options.shots, options.seed);
    const tuned = await tuneOnShots(models, shots, options, timings);
    if (!tuned.ok) return tuned;
    scoring = tuned.value;
  }

  const { vision } = models;
  const size = vision.size;
  const truths: { width: number; height: number; mask: Uint8Array }[] = [];
  const runs: Record<ReportedScorer, ScorerRun> = { prompt: { maps: [], scores: [] }, memory: { maps: [], scores: [] }, both: { maps: [], scores: [] } };
  const reported = reportedScorers(options.scorer);
  for (let first = 0; first < category.test.length; first += BATCH) {
    const batch = category.test.slice(first, first + BATCH);
    const images = await readRgbImages(
      batch.map((t) => t.path),
      size,
    );
    if (!images.ok) return images;
    const out = await timed(timings, 'inference', () => vision.run(images.value, scoring.textEmbeds, { anomalyMaps: true, patchEmbeds: usesMemory }));
    const memory = usesMemory ? await timed(timings, 'inference', () => models.memory!.run(out.patchEmbeds!, scoring.memory!, { maps: true })) : null;
    for (const [b, test] of batch.entries()) {
      const truth = await groundTruth(test);
      if (!truth.ok) return truth;
      truths.push(truth.value);
      const promptMap = out.anomalyMaps!.slice(b * size * size, (b + 1) * size * size);
      runs.prompt.maps.push(promptMap);
      runs.prompt.scores.push(out.anomalyScores[b]);
      if (!memory) continue;
      const memoryMap = memory.maps!.slice(b * size * size, (b + 1) * size * size);
      runs.memory.maps.push(memoryMap);
      runs.memory.scores.push(memory.scores[b]);
      if (!scoring.scales) continue;
      const both = combineScorerMaps([
        { map: promptMap, scale: scoring.scales.prompt },
        { map: memoryMap, scale: scoring.scales.memory },
      ]).map;
      runs.both.maps.push(both);
      runs.both.scores.push(mapMax(both));
    }
    progress('test images', first + batch.length, category.test.length);
  }
  if (options.scorer === 'both' && !scoring.scales) return err(`--scorer both: prompt set has no memory calibration to combine with`);

  const labels = category.test.map((t) => t.label);
  const byScorer: Partial<Record<ReportedScorer, CategoryMetrics>> = {};
  let chosen: { image: RankingMetrics; pixel: PixelMetrics } | null = null;
  for (const name of reported) {
    const run = runs[name];
    const measured = await timed(timings, 'metrics', () => {
      const image = imageMetrics(run.scores, labels);
      // one scorer's full-resolution maps at a time: they are the bulk of eval's memory
      const pixel = image.ok ? pixelMetrics(truths.map((t, i) => ({ ...t, scores: resizeBilinear(run.maps[i], size, size, t.width, t.height) }))) : null;
      return { image, pixel };
    });
    if (!measured.image.ok) return err(`category ${category.name} (${name} scorer): ${measured.image.error}`);
    if (!measured.pixel!.ok) return err(`category ${category.name} (${name} scorer): ${measured.pixel!.error}`);
    const image = measured.image.value;
    const pixel = measured.pixel!.value;
    byScorer[name] = {
      image_auroc: image.auroc,
      image_ap: image.ap,
      image_f1max: image.f1max,
      pixel_auroc: pixel.auroc,
      pro: pixel.pro,
      pixel_f1max: pixel.f1max,
    };
    if (name === options.scorer) chosen = { image, pixel };
  }
  const run = runs[options.scorer];
  const { image, pixel } = chosen!;
  return ok({
    name: category.name,
    metrics: byScorer[options.scorer]!,
    byScorer,
    scores: category.test.map((t, i) => ({ path: t.path, label: t.label, score: run.scores[i] })),
    curves: { imageRoc: image.roc, pixelRoc: pixel.roc, pro: pixel.proCurve },
    thumbnails: await thumbnails(category.test, run.maps, run.scores, size, options),
    shots,
    timings,
  });
}

/**
 * Prompt learning on the shots, as `linewatch tune` learns (without the held-out split: eval uses
 * every shot), the memory bank of the shots' patches, and both scales (see the top of this file).
 */
async function tuneOnShots(models: TuningModels, shots: string[], options: EvalOptions, timings: PhaseTimings): Promise<Result<Scoring>> {
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
  if (options.scorer === 'prompt' || !models.memory) return ok({ textEmbeds: trained.textEmbeds, memory: null, scales: null });
  const layout = { layers: vision.layers, patches: vision.patches, embedDim: vision.embedDim };
  const memory = buildMemoryBank(normals.vision.patchEmbeds!, indices, layout, { maxPatches: DEFAULT_MAX_PATCHES, seed: options.seed }).bank;
  if (options.scorer === 'memory') return ok({ textEmbeds: trained.textEmbeds, memory, scales: null });
  const scales = await timed(timings, 'features', () =>
    shotScales(models, trained.textEmbeds, memory, [...images.value, ...synthetic.map((x) => x.image)], shots.length),
  );
  return scales.ok ? ok({ textEmbeds: trained.textEmbeds, memory, scales: scales.value }) : scales;
}

/** Each scorer's scale from the shots (the first `shotCount` images) and their synthetic anomalies. */
async function shotScales(
  models: TuningModels,
  textEmbeds: Float32Array,
  memory: MemoryBank,
  images: RgbImage[],
  shotCount: number,
): Promise<Result<{ prompt: ScoreScale; memory: ScoreScale }>> {
  const out = await models.vision.run(images, textEmbeds, { patchEmbeds: true });
  const memoryScores = (await models.memory!.run(out.patchEmbeds!, memory)).scores;
  const scale = (scores: Float32Array, name: string): Result<ScoreScale> => {
    const c = calibrate(scores.subarray(0, shotCount), scores.subarray(shotCount));
    return c.ok ? ok(c.value.calibration) : err(`the ${name} scorer's scale cannot be set from the shots: ${c.error}`);
  };
  const prompt = scale(out.anomalyScores, 'prompt');
  if (!prompt.ok) return prompt;
  const mem = scale(memoryScores, 'memory');
  return mem.ok ? ok({ prompt: prompt.value, memory: mem.value }) : mem;
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

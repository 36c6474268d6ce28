// The part of tuning shared by `linewatch tune` and `linewatch eval`: OAGM anomalies from normal
// images that vision.onnx has seen, patch features of the synthetic images, and prompt learning on
// the cached features of both.
import type { RgbImage } from './image/rgb-image.ts';
import { unitPatchFeatures } from './losses.ts';
import { type OagmOptionsInput, type SyntheticSample, synthesizeAnomalies } from './oagm.ts';
import { buildTaskTargets } from './patch-targets.ts';
import { createRng } from './rng.ts';
import { type Guidance, type StepReport, type TrainOptions, type TrainResult, trainPrompts } from './train.ts';
import type { TuningModels } from './tuning-models.ts';
import { rowOf, type VisionResult } from './vision-features.ts';

/** Normal images with the vision.onnx outputs of one run over them (patch embeddings kept). */
export interface AnalysedNormals {
  images: RgbImage[];
  vision: VisionResult;
}

/** Synthetic anomalies per normal image, and the fewest made from any set of normals. */
export const syntheticPerNormal = 2;
export const minSynthetic = 8;

export function syntheticCount(normals: number): number {
  return Math.max(minSynthetic, syntheticPerNormal * normals);
}

/** A seed for one use (`stream`) of the run's seed: the uses draw independent random numbers. */
export function derivedSeed(seed: number, stream: number): number {
  return createRng(seed, stream).uint32();
}

/** Wall time per tuning activity, in milliseconds. */
export interface PhaseTimings {
  synthesis: number;
  features: number;
  steps: number;
  calibration: number;
}

export function emptyTimings(): PhaseTimings {
  return { synthesis: 0, features: 0, steps: 0, calibration: 0 };
}

/** Runs `work`, adding its wall time to `timings[phase]`. */
export async function timed<T, K extends string>(timings: Record<K, number>, phase: K, work: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    timings[phase] += performance.now() - start;
  }
}

/** Row `i` of the normals as OAGM input. */
function normalImage(normals: AnalysedNormals, i: number) {
  return { image: normals.images[i], clsAttention: rowOf(normals.vision.clsAttention, i, normals.vision.clsAttention.length / normals.vision.count) };
}

/** OAGM anomalies from the images at `indices` of `normals`. */
export function synthesizeFrom(normals: AnalysedNormals, indices: number[], count: number, seed: number, oagm: OagmOptionsInput = {}): SyntheticSample[] {
  return synthesizeAnomalies(
    indices.map((i) => normalImage(normals, i)),
    count,
    seed,
    oagm,
  );
}

export interface LearnOptions {
  steps: number;
  seed: number;
  guidance: Guidance;
  lambda: number;
  /** Prompt layout, initialisation, optimiser and loss settings (train.ts defaults otherwise). */
  train?: Partial<Pick<TrainOptions, 'layout' | 'init' | 'adam' | 'loss'>>;
  onFeatures?: (done: number, total: number) => void;
  onStep?: (report: StepReport) => void;
  signal?: AbortSignal;
}

/**
 * Runs the synthetic images through vision.onnx and learns prompts on the patch features of the
 * normals at `indices` (already analysed) and of the synthetic images.
 */
export async function learnPrompts(
  models: TuningModels,
  normals: AnalysedNormals,
  indices: number[],
  synthetic: SyntheticSample[],
  options: LearnOptions,
  timings: PhaseTimings,
): Promise<TrainResult> {
  const { vision } = models;
  const { layers: K, patches: N, embedDim: E, grid, size } = vision;
  const synthFeatures = await timed(timings, 'features', () =>
    vision.run(
      synthetic.map((s) => s.image),
      models.metaTextEmbeds,
      { patchEmbeds: true, onImages: (done) => options.onFeatures?.(done, synthetic.length) },
    ),
  );
  const normalPatches = normals.vision.patchEmbeds;
  if (!normalPatches) throw new RangeError('the normal images were analysed without patch embeddings');
  const perImage = K * N * E;
  const B = indices.length + synthetic.length;
  const patches = new Float32Array(B * perImage);
  indices.forEach((i, b) => patches.set(normalPatches.subarray(i * perImage, (i + 1) * perImage), b * perImage));
  patches.set(synthFeatures.patchEmbeds!, indices.length * perImage);
  const features = unitPatchFeatures(patches, B, K, N, E);
  const targets = buildTaskTargets(
    [...indices.map(() => ({ mask: null, width: size, height: size })), ...synthetic.map((s) => ({ mask: s.mask, width: size, height: size }))],
    grid,
  );
  return timed(timings, 'steps', () =>
    trainPrompts(models.text, models.vocab, { features, targets }, options.guidance === 'mpts' ? models.metaTextEmbeds : null, {
      ...options.train,
      steps: options.steps,
      seed: options.seed,
      guidance: options.guidance,
      lambda: options.lambda,
      onProgress: options.onStep,
      signal: options.signal,
    }),
  );
}

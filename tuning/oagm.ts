// OAGM, object-attention anomaly generation: synthetic defects placed on the object a normal
// image shows, located through the vision model's class-token attention, so that prompts learn
// what a defect on the part looks like rather than a speck on the background.

import { type BlobOptions, blobMask, countSet, defaultBlobOptions } from './blob-mask.ts';
import { resizeBilinear } from './image/bilinear.ts';
import { dilateSquare } from './image/dilate.ts';
import { otsuThreshold } from './image/otsu.ts';
import type { RgbImage } from './image/rgb-image.ts';
import { copyRgb } from './image/rgb-image.ts';
import { applyPerturbation, type PerturbationKind, perturbationKinds } from './perturbations.ts';
import { createRng, type Rng } from './rng.ts';

export interface ObjectMaskOptions {
  /** false: the whole frame is the object (ablation "OAGM without the object mask"). */
  useObjectMask: boolean;
  /** Above this fraction of the frame the object is taken to be the whole frame (textures). */
  wholeFrameCoverage: number;
  /** Dilation radius in patches: the attention is one patch coarse, so its edge is uncertain by one. */
  dilationPatches: number;
}

export interface ObjectMask {
  width: number;
  height: number;
  /** 1 = object pixel. */
  mask: Uint8Array;
  /** Fraction of the frame the thresholded, dilated attention covered (before any whole-frame fallback). */
  coverage: number;
  /** True when the mask is the whole frame (texture, flat attention, or the object mask switched off). */
  wholeFrame: boolean;
}

export interface OagmOptions {
  object: ObjectMaskOptions;
  blob: BlobOptions;
  /** Relative weights for drawing a perturbation kind per blob; 0 disables a kind. */
  kinds: Record<PerturbationKind, number>;
  /** Each synthetic image gets 1..maxBlobs blobs. */
  maxBlobs: number;
  /** Blend opacity of a blob, drawn uniformly from [min, max]. */
  opacity: [number, number];
}

export const defaultOagmOptions: OagmOptions = {
  object: { useObjectMask: true, wholeFrameCoverage: 0.85, dilationPatches: 1 },
  blob: defaultBlobOptions,
  kinds: { gaussian: 1, cutpaste: 1, shift: 1, blur: 1 },
  maxBlobs: 2,
  opacity: [0.7, 1],
};

export type OagmOptionsInput = {
  [K in keyof OagmOptions]?: OagmOptions[K] extends unknown[] ? OagmOptions[K] : Partial<OagmOptions[K]>;
};

export function resolveOagmOptions(input: OagmOptionsInput = {}): OagmOptions {
  const d = defaultOagmOptions;
  return {
    object: { ...d.object, ...input.object },
    blob: { ...d.blob, ...input.blob },
    kinds: { ...d.kinds, ...input.kinds },
    maxBlobs: input.maxBlobs ?? d.maxBlobs,
    opacity: input.opacity ?? d.opacity,
  };
}

/**
 * The object region of a frame from the class-token attention over the g x g patch grid
 * (`cls_attention` of one image, length g*g): bilinear upsampling to width x height, Otsu
 * threshold, dilation; the whole frame when that covers nearly everything.
 */
export function objectMaskFromAttention(
  attention: Float32Array,
  width: number,
  height: number,
  options: ObjectMaskOptions = defaultOagmOptions.object,
): ObjectMask {
  const grid = Math.round(Math.sqrt(attention.length));
  if (grid * grid !== attention.length || grid === 0) {
    throw new RangeError(`cls_attention has ${attention.length} values, not a square patch grid`);
  }
  const wholeFrame = (coverage: number): ObjectMask => ({ width, height, mask: new Uint8Array(width * height).fill(1), coverage, wholeFrame: true });
  if (!options.useObjectMask) return wholeFrame(1);
  const upsampled = resizeBilinear(attention, grid, grid, width, height);
  const threshold = otsuThreshold(upsampled);
  if (threshold === null) return wholeFrame(1); // flat attention: nothing stands out
  const above = new Uint8Array(width * height);
  for (let i = 0; i < above.length; i++) above[i] = upsampled[i] > threshold ? 1 : 0;
  const radius = Math.round((options.dilationPatches * Math.max(width, height)) / grid);
  const mask = dilateSquare(above, width, height, radius);
  const coverage = countSet(mask) / mask.length;
  if (coverage > options.wholeFrameCoverage) return wholeFrame(coverage);
  return { width, height, mask, coverage, wholeFrame: false };
}

export interface SyntheticAnomaly {
  image: RgbImage;
  /** Ground truth: 1 where the image was perturbed. */
  mask: Uint8Array;
  /** The perturbation of each blob, in the order applied. */
  kinds: PerturbationKind[];
}

/** One synthetic anomaly on a copy of `image`, inside `object`. */
export function synthesizeAnomaly(image: RgbImage, object: ObjectMask, donors: RgbImage[], rng: Rng, options: OagmOptions): SyntheticAnomaly {
  if (object.width !== image.width || object.height !== image.height) {
    throw new RangeError(`object mask is ${object.width}x${object.height} but the image is ${image.width}x${image.height}`);
  }
  const out = copyRgb(image);
  const mask = new Uint8Array(image.width * image.height);
  const kinds: PerturbationKind[] = [];
  const blobs = 1 + rng.int(Math.max(1, options.maxBlobs));
  for (let b = 0; b < blobs; b++) {
    const blob = blobMask(object.mask, image.width, image.height, rng, options.blob);
    const kind = drawKind(options.kinds, rng);
    applyPerturbation(kind, out, blob, rng.uniform(options.opacity[0], options.opacity[1]), donors, rng);
    for (let i = 0; i < mask.length; i++) mask[i] |= blob[i];
    kinds.push(kind);
  }
  return { image: out, mask, kinds };
}

export interface NormalImage {
  image: RgbImage;
  /** `cls_attention` of this image from vision.onnx: [N] over the patch grid. */
  clsAttention: Float32Array;
}

export interface SyntheticSample extends SyntheticAnomaly {
  /** Index of the normal image it was made from. */
  source: number;
  object: ObjectMask;
}

/**
 * `count` synthetic anomalies, sample i made from normal i mod n with its own random stream
 * createRng(seed, i): the same seed gives the same samples, and sample i does not depend on count.
 * Cut-and-paste draws from all the normals.
 */
export function synthesizeAnomalies(normals: NormalImage[], count: number, seed: number, input: OagmOptionsInput = {}): SyntheticSample[] {
  if (normals.length === 0) throw new RangeError('OAGM needs at least one normal image');
  const options = resolveOagmOptions(input);
  const objects = new Map<number, ObjectMask>();
  const donors = normals.map((n) => n.image);
  const samples: SyntheticSample[] = [];
  for (let i = 0; i < count; i++) {
    const source = i % normals.length;
    const { image, clsAttention } = normals[source];
    let object = objects.get(source);
    if (!object) {
      object = objectMaskFromAttention(clsAttention, image.width, image.height, options.object);
      objects.set(source, object);
    }
    samples.push({ ...synthesizeAnomaly(image, object, donors, createRng(seed, i), options), source, object });
  }
  return samples;
}

function drawKind(weights: Record<PerturbationKind, number>, rng: Rng): PerturbationKind {
  const total = perturbationKinds.reduce((s, k) => s + Math.max(weights[k], 0), 0);
  if (!(total > 0)) throw new RangeError('OAGM: every perturbation kind has weight 0');
  let r = rng.float() * total;
  const enabled = perturbationKinds.filter((k) => weights[k] > 0);
  for (const k of enabled) {
    r -= weights[k];
    if (r < 0) return k;
  }
  return enabled[enabled.length - 1]; // r can reach 0 only through rounding
}

// Batched vision.onnx runs over in-memory images at the bundle's input size: patch embeddings and
// class-token attention for tuning, anomaly maps and scores for a given pair of text embeddings.
// The anomaly head lives in the graph, so scoring with other prompts is another run with another
// `text_embeds`; there is no second copy of the head in TypeScript.
import ort from 'onnxruntime-node';
import type { Bundle } from '../models/bundle/load.ts';
import { type Normalisation, toPixelValues } from '../models/preprocess.ts';
import { createSession, type SessionFactoryOptions } from '../models/session.ts';
import type { RgbImage } from './image/rgb-image.ts';

export interface VisionRunOptions {
  /** Keep `patch_embeds` [B,K,N,E] (training features); large, so off by default. */
  patchEmbeds?: boolean;
  /** Keep `anomaly_map` [B,H,W]; off by default. */
  anomalyMaps?: boolean;
  /** Images per vision.onnx call (default 4). */
  batchSize?: number;
  /** Called after each batch with the number of images done. */
  onImages?: (done: number) => void;
}

export interface VisionResult {
  count: number;
  /** [count,K,N,E] or null when not asked for. */
  patchEmbeds: Float32Array | null;
  /** [count,N] */
  clsAttention: Float32Array;
  /** [count,size,size] or null when not asked for. */
  anomalyMaps: Float32Array | null;
  /** [count] */
  anomalyScores: Float32Array;
}

export class VisionFeatures {
  /** Input side in pixels. */
  readonly size: number;
  /** Patches per side. */
  readonly grid: number;
  /** K: selected layers in patch_embeds. */
  readonly layers: number;
  /** N = grid^2 */
  readonly patches: number;
  /** E */
  readonly embedDim: number;
  private readonly norm: Normalisation;

  private constructor(
    private readonly session: ort.InferenceSession,
    bundle: Bundle,
  ) {
    const m = bundle.manifest;
    this.size = m.vision.imageSize;
    this.grid = m.vision.grid;
    this.layers = m.vision.layers.length;
    this.patches = this.grid * this.grid;
    this.embedDim = m.embedDim;
    this.norm = m.preprocess;
  }

  static async open(bundle: Bundle, options: SessionFactoryOptions): Promise<VisionFeatures> {
    const { session } = await createSession(bundle.paths.vision, options);
    return new VisionFeatures(session, bundle);
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** Runs `images` (each size x size) with `textEmbeds` [2,E] as the anomaly head's prompts. */
  async run(images: RgbImage[], textEmbeds: Float32Array, options: VisionRunOptions = {}): Promise<VisionResult> {
    const { size, layers: K, patches: N, embedDim: E } = this;
    if (textEmbeds.length !== 2 * E) throw new RangeError(`text embeddings have ${textEmbeds.length} values, the bundle needs 2 x ${E}`);
    images.forEach((img, i) => {
      if (img.width !== size || img.height !== size) throw new RangeError(`image ${i} is ${img.width}x${img.height}, the bundle takes ${size}x${size}`);
    });
    const count = images.length;
    const batchSize = Math.max(1, options.batchSize ?? 4);
    const result: VisionResult = {
      count,
      patchEmbeds: options.patchEmbeds ? new Float32Array(count * K * N * E) : null,
      clsAttention: new Float32Array(count * N),
      anomalyMaps: options.anomalyMaps ? new Float32Array(count * size * size) : null,
      anomalyScores: new Float32Array(count),
    };
    const fetches = ['cls_attention', 'anomaly_score', ...(options.patchEmbeds ? ['patch_embeds'] : []), ...(options.anomalyMaps ? ['anomaly_map'] : [])];
    const text = new ort.Tensor('float32', textEmbeds, [2, E]);
    for (let first = 0; first < count; first += batchSize) {
      const batch = images.slice(first, first + batchSize);
      const pixels = new Float32Array(batch.length * 3 * size * size);
      batch.forEach((img, b) => toPixelValues(img.data, size, this.norm, pixels, b));
      const out = await this.session.run({ pixel_values: new ort.Tensor('float32', pixels, [batch.length, 3, size, size]), text_embeds: text }, fetches);
      result.clsAttention.set(out.cls_attention.data as Float32Array, first * N);
      result.anomalyScores.set(out.anomaly_score.data as Float32Array, first);
      result.patchEmbeds?.set(out.patch_embeds.data as Float32Array, first * K * N * E);
      result.anomalyMaps?.set(out.anomaly_map.data as Float32Array, first * size * size);
      options.onImages?.(first + batch.length);
    }
    return result;
  }
}

/** Row `i` of a [count, n] result array, as a view. */
export function rowOf(values: Float32Array, i: number, n: number): Float32Array {
  return values.subarray(i * n, (i + 1) * n);
}

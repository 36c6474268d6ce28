// The inputs the benchmarks feed vision.onnx: fixed pixel values and text embeddings of the
// bundle's sizes (speed does not depend on the values; fixed ones make runs repeatable).
import ort from 'onnxruntime-node';
import type { Manifest } from '../models/bundle/manifest.ts';

export function visionFeeds(manifest: Pick<Manifest, 'vision' | 'embedDim'>, batch: number): Record<string, ort.Tensor> {
  const size = manifest.vision.imageSize;
  const e = manifest.embedDim;
  return {
    pixel_values: new ort.Tensor(
      'float32',
      Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.37)),
      [batch, 3, size, size],
    ),
    text_embeds: new ort.Tensor(
      'float32',
      Float32Array.from({ length: 2 * e }, (_, i) => Math.sin(i)),
      [2, e],
    ),
  };
}

// Resizing the vision positional embedding to another patch grid, as OpenCLIP does when a model
// runs at an image size it was not trained at: the g x g grid of position vectors is resampled
// with bicubic interpolation (Keys kernel, a = -0.75, align_corners = False, border samples
// clamped: PyTorch's F.interpolate(mode='bicubic')); the class position is kept as is.
import type { Matrix } from '../weights/clip-weights.ts';

const A = -0.75;

/** Keys cubic convolution weights for the four samples around a point at fraction t in [0,1). */
function cubicWeights(t: number): [number, number, number, number] {
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** For each output index: the four clamped source indices and their weights. */
function resampleTaps(from: number, to: number): { index: number[]; weight: number[] }[] {
  const scale = from / to;
  return Array.from({ length: to }, (_, o) => {
    const src = scale * (o + 0.5) - 0.5;
    const base = Math.floor(src);
    const weight = cubicWeights(src - base);
    const index = [-1, 0, 1, 2].map((k) => Math.min(Math.max(base + k, 0), from - 1));
    return { index, weight };
  });
}

/**
 * `pos` is [1 + from*from, W] (class position first, then the grid in row-major order);
 * returns [1 + to*to, W].
 */
export function resizePositionalEmbedding(pos: Matrix, from: number, to: number): Matrix {
  const w = pos.cols;
  if (pos.rows !== 1 + from * from) throw new Error(`positional embedding has ${pos.rows} rows, expected ${1 + from * from}`);
  const taps = resampleTaps(from, to);
  // rows first: [from, to, W], then columns: [to, to, W]
  const alongX = new Float32Array(from * to * w);
  for (let r = 0; r < from; r++) {
    for (let c = 0; c < to; c++) {
      const { index, weight } = taps[c];
      const out = (r * to + c) * w;
      for (let k = 0; k < 4; k++) {
        const src = (1 + r * from + index[k]) * w;
        for (let ch = 0; ch < w; ch++) alongX[out + ch] += weight[k] * pos.data[src + ch];
      }
    }
  }
  const data = new Float32Array((1 + to * to) * w);
  data.set(pos.data.subarray(0, w));
  for (let r = 0; r < to; r++) {
    const { index, weight } = taps[r];
    for (let c = 0; c < to; c++) {
      const out = (1 + r * to + c) * w;
      for (let k = 0; k < 4; k++) {
        const src = (index[k] * to + c) * w;
        for (let ch = 0; ch < w; ch++) data[out + ch] += weight[k] * alongX[src + ch];
      }
    }
  }
  return { rows: 1 + to * to, cols: w, data };
}

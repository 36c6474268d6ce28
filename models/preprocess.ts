// The bundle's preprocessing: rgb24 HWC frames (already at the model input size) -> normalised float32 NCHW. Used by the agent's inference worker and by tuning.

export interface Normalisation {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** Writes one HWC uint8 image into `out` (a [B,3,H,W] batch) at batch index `b`. */
export function toPixelValues(rgb: Uint8Array, size: number, norm: Normalisation, out: Float32Array, b: number): void {
  const plane = size * size;
  const base = b * 3 * plane;
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * norm.std[c]);
    const shift = norm.mean[c] / norm.std[c];
    const dst = base + c * plane;
    for (let i = 0; i < plane; i++) out[dst + i] = rgb[i * 3 + c] * scale - shift;
  }
}

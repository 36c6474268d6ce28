/**
 * Bilinear resize of a single-channel float map with half-pixel centres (align_corners = false,
 * edges clamped), the convention of PyTorch's and ONNX's default linear resize.
 */
export function resizeBilinear(src: Float32Array, srcWidth: number, srcHeight: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const sx = srcWidth / width;
  const sy = srcHeight / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), srcHeight - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, srcHeight - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), srcWidth - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, srcWidth - 1);
      const wx = fx - x0;
      const top = src[y0 * srcWidth + x0] * (1 - wx) + src[y0 * srcWidth + x1] * wx;
      const bottom = src[y1 * srcWidth + x0] * (1 - wx) + src[y1 * srcWidth + x1] * wx;
      out[y * width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

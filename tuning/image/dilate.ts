/**
 * Dilation of a binary mask by a (2r+1) x (2r+1) square, separably with running counts, so the
 * cost does not grow with the radius.
 */
export function dilateSquare(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return new Uint8Array(mask);
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) spread(mask, rows, y * width, 1, width, radius);
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) spread(rows, out, x, width, height, radius);
  return out;
}

/** 1-D dilation along a line of `length` elements starting at `offset` with step `stride`. */
function spread(src: Uint8Array, dst: Uint8Array, offset: number, stride: number, length: number, radius: number): void {
  let inWindow = 0; // set pixels in [i - radius, i + radius]
  for (let i = 0; i < Math.min(radius, length); i++) if (src[offset + i * stride]) inWindow++;
  for (let i = 0; i < length; i++) {
    const enter = i + radius;
    const leave = i - radius - 1;
    if (enter < length && src[offset + enter * stride]) inWindow++;
    if (leave >= 0 && src[offset + leave * stride]) inWindow--;
    dst[offset + i * stride] = inWindow > 0 ? 1 : 0;
  }
}

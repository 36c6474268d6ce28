import type { Rng } from '../rng.ts';

/**
 * Smooth value noise in [0, 1]: random values on a lattice with spacing `cell` pixels,
 * interpolated with a smoothstep, so features are about `cell` pixels across.
 */
export function valueNoise(width: number, height: number, cell: number, rng: Rng): Float32Array {
  const cols = Math.ceil(width / cell) + 2;
  const rows = Math.ceil(height / cell) + 2;
  const lattice = new Float32Array(cols * rows);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.float();
  // A random phase so lattice points do not always sit on the same pixels.
  const ox = rng.float() * cell;
  const oy = rng.float() * cell;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = (y + oy) / cell;
    const y0 = Math.floor(fy);
    const ty = smoothstep(fy - y0);
    for (let x = 0; x < width; x++) {
      const fx = (x + ox) / cell;
      const x0 = Math.floor(fx);
      const tx = smoothstep(fx - x0);
      const i = y0 * cols + x0;
      const top = lattice[i] + (lattice[i + 1] - lattice[i]) * tx;
      const bottom = lattice[i + cols] + (lattice[i + cols + 1] - lattice[i + cols]) * tx;
      out[y * width + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}

function smoothstep(t: number): number {
  return t * t * (3 - 2 * t);
}

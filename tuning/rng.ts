// Seeded, deterministic pseudo-random numbers: xoshiro128** seeded through a splitmix32 hash.
// Math.random cannot be seeded, and every tuning step that draws randomness (initialisation,
// synthesis) must give the same result for the same seed on every machine.

export interface Rng {
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
}

/** splitmix32 finaliser: spreads one 32-bit word over all bits. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * A generator for `seed` (any safe integer) and an optional stream path: `createRng(seed, i)`
 * gives the i-th independent stream, so sample i does not depend on how many samples came before.
 */
export function createRng(seed: number, ...stream: number[]): Rng {
  if (!Number.isSafeInteger(seed) || stream.some((s) => !Number.isSafeInteger(s))) {
    throw new RangeError(`rng seed and stream ids must be safe integers, got ${[seed, ...stream].join(', ')}`);
  }
  let h = mix32(seed >>> 0) ^ mix32(Math.floor(seed / 2 ** 32) >>> 0);
  for (const s of stream) h = mix32(h ^ mix32(s >>> 0) ^ mix32(Math.floor(s / 2 ** 32) + 0x5bd1e995));
  const s = new Uint32Array(4);
  for (let i = 0; i < 4; i++) s[i] = h = mix32(h + i);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point

  let spare: number | null = null;
  const uint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const float = (): number => uint32() / 2 ** 32;
  return {
    uint32,
    float,
    uniform: (lo, hi) => lo + (hi - lo) * float(),
    int: (n) => Math.floor(float() * n),
    normal: () => {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      const u = 1 - float(); // (0, 1]: log(u) is finite
      const r = Math.sqrt(-2 * Math.log(u));
      const a = 2 * Math.PI * float();
      spare = r * Math.sin(a);
      return r * Math.cos(a);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

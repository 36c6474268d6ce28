// Typed access to named tensors with shape checks that collect every problem, so a bad weights
// file is reported once, completely, instead of failing at the first missing key.

import type { LayerNormWeights, Matrix } from './clip-weights.ts';
import { type SafetensorsFile, tensorF32 } from './safetensors.ts';

export class TensorSource {
  readonly problems: string[] = [];
  constructor(private readonly file: SafetensorsFile) {}

  has(name: string): boolean {
    return this.file.tensors.has(name);
  }

  shape(name: string): number[] | undefined {
    return this.file.tensors.get(name)?.shape;
  }

  /** The tensor, or an empty array with a problem recorded when it is missing or misshapen. */
  get(name: string, expected: (number | null)[]): Float32Array {
    const info = this.file.tensors.get(name);
    if (!info) {
      this.problems.push(`missing tensor '${name}'`);
      return new Float32Array(0);
    }
    const fits = info.shape.length === expected.length && expected.every((d, i) => d === null || d === info.shape[i]);
    if (!fits) {
      const want = `[${expected.map((d) => d ?? '?').join(', ')}]`;
      this.problems.push(`tensor '${name}' has shape [${info.shape.join(', ')}], expected ${want}`);
      return new Float32Array(0);
    }
    return tensorF32(this.file, name);
  }

  matrix(name: string, rows: number, cols: number): Matrix {
    return { rows, cols, data: this.get(name, [rows, cols]) };
  }

  /** A PyTorch Linear weight [out, in] used as x @ W^T; stored transposed as [in, out]. */
  transposed(name: string, rows: number, cols: number): Matrix {
    const m = this.get(name, [cols, rows]);
    if (m.length === 0) return { rows, cols, data: m };
    const t = new Float32Array(rows * cols);
    for (let r = 0; r < cols; r++) for (let c = 0; c < rows; c++) t[c * cols + r] = m[r * rows + c];
    return { rows, cols, data: t };
  }

  layerNorm(prefix: string, width: number): LayerNormWeights {
    return { weight: this.get(`${prefix}.weight`, [width]), bias: this.get(`${prefix}.bias`, [width]) };
  }

  /** Counts keys matching `${prefix}N.` to find the number of transformer blocks. */
  countBlocks(prefix: string): number {
    let n = 0;
    while ([...this.file.tensors.keys()].some((k) => k.startsWith(`${prefix}${n}.`))) n++;
    return n;
  }
}

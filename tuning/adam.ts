// Adam (Kingma & Ba) with bias correction; moments kept in float64.

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const defaultAdamOptions: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly options: AdamOptions;
  private steps = 0;

  constructor(size: number, options: Partial<AdamOptions> = {}) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.options = { ...defaultAdamOptions, ...options };
  }

  /** Updates `params` in place against `grad` (a descent step). */
  step(params: Float32Array, grad: ArrayLike<number>): void {
    if (params.length !== this.m.length || grad.length !== this.m.length) {
      throw new RangeError(`Adam is for ${this.m.length} parameters, got ${params.length} parameters and ${grad.length} gradients`);
    }
    const { lr, beta1, beta2, eps } = this.options;
    this.steps++;
    const c1 = 1 - beta1 ** this.steps;
    const c2 = 1 - beta2 ** this.steps;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i];
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * g;
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * g * g;
      params[i] -= (lr * (this.m[i] / c1)) / (Math.sqrt(this.v[i] / c2) + eps);
    }
  }
}

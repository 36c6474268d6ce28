// Prompt-learning losses on cached patch embeddings, with analytic gradients with respect to the
// two text embeddings t = [t_normal; t_anomalous] ([2,E], unnormalised, as text.onnx returns them).
//
// The probabilities match the anomaly head in vision.onnx: p and t L2-normalised, logits
// s * p.t with s = 100, softmax over {normal, anomalous}. For two classes the anomalous
// probability is sigmoid(u) with the margin u = s * p.(t^_anom - t^_norm), so every loss is
// differentiated down to dL/du per patch and then pulled back to t in one pass over the features:
//   dL/dd = s * sum_i dL/du_i p_i,  dL/dt^_anom = dL/dd,  dL/dt^_norm = -dL/dd,
//   dL/dt_j = (dL/dt^_j - t^_j (t^_j . dL/dt^_j)) / |t_j|   (through the normalisation).
//
// L_task = focal (gamma 2) + dice on each layer's patch map against the patch coverage of the
// synthetic mask, + BCE on the image score. The image score here is the mean of the top
// ceil(topFraction * N) patches of the layer-averaged map: the head's score is the max of a
// smoothed map, and a top-k mean follows it while spreading the gradient over a few patches
// instead of a single arg-max patch (which would make the BCE gradient sparse and jumpy);
// unlike a log-sum-exp it stays a probability, so the BCE is defined.
// L_meta = KL(p_meta || p_learned) between Bernoulli anomaly probabilities per patch and layer.

export interface PatchFeatures {
  /** images, selected layers, patches, embedding width */
  B: number;
  K: number;
  N: number;
  E: number;
  /** [B,K,N,E] patch embeddings with every row L2-normalised (see unitPatchFeatures). */
  unit: Float32Array;
}

/** Normalises `patch_embeds` [B,K,N,E] from vision.onnx once, so the losses need not redo it every step. */
export function unitPatchFeatures(patchEmbeds: Float32Array, B: number, K: number, N: number, E: number): PatchFeatures {
  if (patchEmbeds.length !== B * K * N * E) {
    throw new RangeError(`patch embeddings have ${patchEmbeds.length} values, expected B*K*N*E = ${B}*${K}*${N}*${E}`);
  }
  const unit = new Float32Array(patchEmbeds.length);
  for (let r = 0; r < B * K * N; r++) {
    let sq = 0;
    for (let e = 0; e < E; e++) sq += patchEmbeds[r * E + e] ** 2;
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let e = 0; e < E; e++) unit[r * E + e] = patchEmbeds[r * E + e] * inv;
  }
  return { B, K, N, E, unit };
}

export interface TaskTargets {
  /** [B,N]: fraction of each patch covered by the synthetic mask (0 everywhere for a normal image). */
  coverage: Float32Array;
  /** [B]: 1 for a synthetic anomaly, 0 for a normal image. */
  labels: Float32Array;
}

export interface LossOptions {
  logitScale: number;
  focalGamma: number;
  /** Additive smoothing of the dice ratio (keeps it defined for empty masks). */
  diceSmooth: number;
  /** The image score averages the top ceil(topFraction * N) patches. */
  topFraction: number;
  weights: { focal: number; dice: number; bce: number };
}

export const defaultLossOptions: LossOptions = {
  logitScale: 100,
  focalGamma: 2,
  diceSmooth: 1,
  topFraction: 0.02,
  weights: { focal: 1, dice: 1, bce: 1 },
};

export interface TaskLoss {
  value: number;
  focal: number;
  dice: number;
  bce: number;
  /** dL_task/dt, [2,E] */
  grad: Float64Array;
}

export interface MetaLoss {
  value: number;
  /** dL_meta/dt, [2,E] */
  grad: Float64Array;
}

type Options = Partial<Omit<LossOptions, 'weights'>> & { weights?: Partial<LossOptions['weights']> };

function resolve(options: Options): LossOptions {
  return { ...defaultLossOptions, ...options, weights: { ...defaultLossOptions.weights, ...options.weights } };
}

/** Anomalous probability per patch and layer, [B,K,N], for text embeddings `text` [2,E]. */
export function anomalyProbabilities(f: PatchFeatures, text: ArrayLike<number>, logitScale = defaultLossOptions.logitScale): Float32Array {
  const u = margins(f, textDirections(text, f.E).direction, logitScale);
  return Float32Array.from(u, sigmoid);
}

/**
 * L_task and (when `metaProbabilities` [B,K,N] is given) L_meta at `text` [2,E], each with its
 * gradient with respect to `text`. Arithmetic is float64 throughout.
 */
export function promptLosses(
  f: PatchFeatures,
  targets: TaskTargets,
  metaProbabilities: Float32Array | null,
  text: ArrayLike<number>,
  options: Options = {},
): { task: TaskLoss; meta: MetaLoss | null } {
  const o = resolve(options);
  const { B, K, N, E } = f;
  if (targets.coverage.length !== B * N || targets.labels.length !== B) {
    throw new RangeError(`targets are for ${targets.labels.length} images / ${targets.coverage.length} patches, features for ${B} / ${B * N}`);
  }
  if (metaProbabilities && metaProbabilities.length !== B * K * N) {
    throw new RangeError(`meta probabilities have ${metaProbabilities.length} values, expected ${B * K * N}`);
  }
  const geometry = textDirections(text, E);
  const u = margins(f, geometry.direction, o.logitScale);
  const q = Float64Array.from(u, sigmoid);

  const dTask = new Float64Array(u.length);
  const focal = focalLoss(u, q, targets.coverage, K, N, o.focalGamma, o.weights.focal, dTask);
  const dice = diceLoss(q, targets.coverage, B, K, N, o.diceSmooth, o.weights.dice, dTask);
  const bce = imageBce(q, targets.labels, B, K, N, o.topFraction, o.weights.bce, dTask);
  const task = { value: o.weights.focal * focal + o.weights.dice * dice + o.weights.bce * bce, focal, dice, bce };

  if (!metaProbabilities) {
    const [grad] = pullBack(f, [dTask], geometry, o.logitScale);
    return { task: { ...task, grad }, meta: null };
  }
  const dMeta = new Float64Array(u.length);
  const meta = klToMeta(u, q, metaProbabilities, dMeta);
  const [taskGrad, metaGrad] = pullBack(f, [dTask, dMeta], geometry, o.logitScale);
  return { task: { ...task, grad: taskGrad }, meta: { value: meta, grad: metaGrad } };
}

/** Mean focal loss over patches and layers, soft targets; adds weight * dFocal/du to `dU`. */
function focalLoss(u: Float64Array, q: Float64Array, coverage: Float32Array, K: number, N: number, gamma: number, weight: number, dU: Float64Array): number {
  const count = u.length;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const b = Math.floor(i / (K * N));
    const y = coverage[b * N + (i % N)];
    const qi = q[i];
    const logQ = -softplus(-u[i]);
    const log1mQ = -softplus(u[i]);
    const pos = (1 - qi) ** gamma;
    const neg = qi ** gamma;
    sum += -y * pos * logQ - (1 - y) * neg * log1mQ;
    const d = -y * pos * (1 - qi - gamma * qi * logQ) - (1 - y) * neg * (gamma * (1 - qi) * log1mQ - qi);
    dU[i] += (weight * d) / count;
  }
  return sum / count;
}

/** Mean soft dice loss over (image, layer) maps on the anomalous channel; adds its gradient to `dU`. */
function diceLoss(q: Float64Array, coverage: Float32Array, B: number, K: number, N: number, smooth: number, weight: number, dU: Float64Array): number {
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const base = (b * K + k) * N;
      let inter = 0;
      let total = smooth;
      for (let n = 0; n < N; n++) {
        const y = coverage[b * N + n];
        inter += q[base + n] * y;
        total += q[base + n] + y;
      }
      const top = 2 * inter + smooth;
      sum += 1 - top / total;
      for (let n = 0; n < N; n++) {
        const qi = q[base + n];
        const dDice = (top - 2 * coverage[b * N + n] * total) / (total * total);
        dU[base + n] += ((weight * dDice) / (B * K)) * qi * (1 - qi);
      }
    }
  }
  return sum / (B * K);
}

/** Mean BCE of the top-k image score against the image labels; adds its gradient to `dU`. */
function imageBce(q: Float64Array, labels: Float32Array, B: number, K: number, N: number, topFraction: number, weight: number, dU: Float64Array): number {
  const top = Math.min(N, Math.max(1, Math.ceil(topFraction * N)));
  const eps = 1e-7;
  const map = new Float64Array(N);
  const order = new Int32Array(N);
  let sum = 0;
  for (let b = 0; b < B; b++) {
    map.fill(0);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) map[n] += q[(b * K + k) * N + n] / K;
    for (let n = 0; n < N; n++) order[n] = n;
    order.sort((x, y) => map[y] - map[x] || x - y);
    let score = 0;
    for (let j = 0; j < top; j++) score += map[order[j]] / top;
    const label = labels[b];
    const s = Math.min(1 - eps, Math.max(eps, score));
    sum += -(label * Math.log(s) + (1 - label) * Math.log(1 - s));
    const dScore = s === score ? (s - label) / (s * (1 - s)) : 0;
    for (let j = 0; j < top; j++) {
      const n = order[j];
      for (let k = 0; k < K; k++) {
        const i = (b * K + k) * N + n;
        dU[i] += ((weight * dScore) / (B * top * K)) * q[i] * (1 - q[i]);
      }
    }
  }
  return sum / B;
}

/** Mean Bernoulli KL(p_meta || p) over patches and layers; writes dKL/du to `dU`. */
function klToMeta(u: Float64Array, q: Float64Array, meta: Float32Array, dU: Float64Array): number {
  const eps = 1e-7;
  const count = u.length;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const m = Math.min(1 - eps, Math.max(eps, meta[i]));
    sum += m * (Math.log(m) + softplus(-u[i])) + (1 - m) * (Math.log(1 - m) + softplus(u[i]));
    dU[i] = (q[i] - m) / count;
  }
  return sum / count;
}

interface TextGeometry {
  /** t^_anom - t^_norm */
  direction: Float64Array;
  units: [Float64Array, Float64Array];
  norms: [number, number];
}

function textDirections(text: ArrayLike<number>, E: number): TextGeometry {
  if (text.length !== 2 * E) throw new RangeError(`text embeddings have ${text.length} values, expected 2 x ${E}`);
  const unitRow = (r: number): [Float64Array, number] => {
    let sq = 0;
    for (let e = 0; e < E; e++) sq += text[r * E + e] ** 2;
    const norm = Math.sqrt(sq);
    if (!(norm > 0)) throw new RangeError(`text embedding ${r} is zero or not finite`);
    return [Float64Array.from({ length: E }, (_, e) => text[r * E + e] / norm), norm];
  };
  const [normal, n0] = unitRow(0);
  const [anomalous, n1] = unitRow(1);
  const direction = Float64Array.from(anomalous, (v, e) => v - normal[e]);
  return { direction, units: [normal, anomalous], norms: [n0, n1] };
}

// margins and pullBack are the two passes over every patch feature in a prompt step (for ViT-B/16
// and 16 normals 26k rows of 512, read twice per step, 300 steps): they work on several rows per
// pass over the embedding width so that each value loaded (a direction entry, an accumulator)
// serves several rows. On a 2-core EPYC that took a step's losses from ~100 to ~30 ms.
const MARGIN_ROWS = 4;
const PULL_ROWS = 8;

/** u_i = scale * unit_i . direction for every patch row, MARGIN_ROWS rows per pass (each row summed in order). */
function margins(f: PatchFeatures, direction: Float64Array, scale: number): Float64Array {
  const { E, unit } = f;
  const rows = f.B * f.K * f.N;
  const u = new Float64Array(rows);
  let i = 0;
  for (; i + MARGIN_ROWS <= rows; i += MARGIN_ROWS) {
    const o0 = i * E;
    const [o1, o2, o3] = [o0 + E, o0 + 2 * E, o0 + 3 * E];
    let d0 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    for (let e = 0; e < E; e++) {
      const d = direction[e];
      d0 += unit[o0 + e] * d;
      d1 += unit[o1 + e] * d;
      d2 += unit[o2 + e] * d;
      d3 += unit[o3 + e] * d;
    }
    u.set([scale * d0, scale * d1, scale * d2, scale * d3], i);
  }
  for (; i < rows; i++) {
    let dot = 0;
    for (let e = 0, o = i * E; e < E; e++, o++) dot += unit[o] * direction[e];
    u[i] = scale * dot;
  }
  return u;
}

/** acc += sum_i w_i unit_i over every patch row, PULL_ROWS rows per pass over the width. */
function addWeightedRows(f: PatchFeatures, w: Float64Array, acc: Float64Array): void {
  const { E, unit } = f;
  const rows = f.B * f.K * f.N;
  let i = 0;
  for (; i + PULL_ROWS <= rows; i += PULL_ROWS) {
    const [w0, w1, w2, w3, w4, w5, w6, w7] = w.subarray(i, i + PULL_ROWS);
    const o0 = i * E;
    const [o1, o2, o3, o4, o5, o6, o7] = [1, 2, 3, 4, 5, 6, 7].map((r) => o0 + r * E);
    for (let e = 0; e < E; e++) {
      acc[e] +=
        w0 * unit[o0 + e] +
        w1 * unit[o1 + e] +
        w2 * unit[o2 + e] +
        w3 * unit[o3 + e] +
        w4 * unit[o4 + e] +
        w5 * unit[o5 + e] +
        w6 * unit[o6 + e] +
        w7 * unit[o7 + e];
    }
  }
  for (; i < rows; i++) {
    const wi = w[i];
    for (let e = 0, o = i * E; e < E; e++, o++) acc[e] += wi * unit[o];
  }
}

/** dL/dt [2,E] for each per-patch margin gradient dL/du. */
function pullBack(f: PatchFeatures, dUs: Float64Array[], g: TextGeometry, scale: number): Float64Array[] {
  const { E } = f;
  const dDirection = dUs.map((dU) => {
    const acc = new Float64Array(E);
    addWeightedRows(f, dU, acc);
    return acc;
  });
  return dDirection.map((dd) => {
    const grad = new Float64Array(2 * E);
    for (const [row, sign] of [
      [0, -1],
      [1, 1],
    ] as const) {
      const t = g.units[row];
      let radial = 0;
      for (let e = 0; e < E; e++) radial += t[e] * sign * scale * dd[e];
      for (let e = 0; e < E; e++) grad[row * E + e] = (sign * scale * dd[e] - t[e] * radial) / g.norms[row];
    }
    return grad;
  });
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

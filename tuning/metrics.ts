// Detection and segmentation metrics as MVTec AD reports them: image AUROC / AP / F1-max and
// pixel AUROC / F1-max / PRO (AUPRO up to FPR 0.3, normalised).
//
// Every metric comes from one sweep over the distinct score values from high to low; all samples
// sharing a score cross the threshold together, which is how ties must count (a tie between a
// normal and an anomalous sample contributes half to the AUROC, as in the Mann-Whitney statistic).
// Scores are split by label and each part sorted once with the native typed-array sort, so a
// pixel sweep over tens of millions of values needs neither an index sort nor a stored curve.
import { err, ok, type Result } from '../util/result.ts';
import { connectedComponents8 } from './image/connected-components.ts';

export interface CurvePoint {
  x: number;
  y: number;
}

export interface RankingMetrics {
  auroc: number;
  /** Average precision: sum over thresholds of (recall step) x precision. */
  ap: number;
  f1max: number;
  /** The score at which F1 peaks; predict anomalous when score >= f1Threshold. */
  f1Threshold: number;
  /** ROC curve (x = FPR, y = TPR) thinned for plotting, from (0,0) to (1,1). */
  roc: CurvePoint[];
}

export interface PixelMetrics extends RankingMetrics {
  /** Area under the per-region-overlap curve up to FPR `proLimit`, divided by `proLimit`. */
  pro: number;
  /** PRO curve (x = FPR, y = mean region overlap) thinned for plotting, up to FPR `proLimit`. */
  proCurve: CurvePoint[];
}

/** One image's anomaly map and ground truth (non-zero = anomalous), both row-major width x height. */
export interface PixelSample {
  width: number;
  height: number;
  scores: Float32Array;
  mask: ArrayLike<number>;
}

export interface PixelMetricOptions {
  /** FPR up to which the PRO curve is integrated (MVTec: 0.3). */
  proLimit?: number;
}

const curvePoints = 512;

/** Image-level AUROC, AP and F1-max. `labels`: non-zero / true = anomalous. */
export function imageMetrics(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): Result<RankingMetrics> {
  if (scores.length !== labels.length) {
    return err(`image metrics: ${scores.length} scores but ${labels.length} labels`);
  }
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) return err(`image metrics: score ${i} is not a finite number (${scores[i]})`);
    if (labels[i]) positives++;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) {
    return err(`image metrics need normal and anomalous images, got ${negatives} normal and ${positives} anomalous`);
  }
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  for (let i = 0, p = 0, n = 0; i < scores.length; i++) {
    if (labels[i]) pos[p++] = scores[i];
    else neg[n++] = scores[i];
  }
  return ok(rankingMetrics(pos.sort(), neg.sort()));
}

/** Pixel-level AUROC, AP, F1-max and PRO over all pixels of all samples. */
export function pixelMetrics(samples: PixelSample[], options: PixelMetricOptions = {}): Result<PixelMetrics> {
  const proLimit = options.proLimit ?? 0.3;
  if (!(proLimit > 0 && proLimit <= 1)) return err(`pixel metrics: PRO limit must be in (0, 1], got ${proLimit}`);
  let positives = 0;
  let total = 0;
  for (const [s, sample] of samples.entries()) {
    const size = sample.width * sample.height;
    if (sample.scores.length !== size || sample.mask.length !== size) {
      return err(`pixel metrics: sample ${s} is ${sample.width}x${sample.height} but has ${sample.scores.length} scores and ${sample.mask.length} mask values`);
    }
    for (let i = 0; i < size; i++) {
      if (!Number.isFinite(sample.scores[i])) return err(`pixel metrics: sample ${s} pixel ${i} is not a finite number`);
      if (sample.mask[i]) positives++;
    }
    total += size;
  }
  const negatives = total - positives;
  if (positives === 0 || negatives === 0) {
    return err(`pixel metrics need normal and anomalous pixels, got ${negatives} normal and ${positives} anomalous`);
  }

  const pos = new Float32Array(positives);
  const neg = new Float32Array(negatives);
  const regionEvents = new Float64Array(positives);
  const regionWeights: number[] = [];
  let p = 0;
  let n = 0;
  for (const sample of samples) {
    const { labels, sizes } = connectedComponents8(sample.mask, sample.width, sample.height);
    const firstRegion = regionWeights.length;
    if (firstRegion + sizes.length > maxRegions) return err(`pixel metrics: more than ${maxRegions} ground-truth regions`);
    for (const size of sizes) regionWeights.push(1 / size);
    for (let i = 0; i < sample.scores.length; i++) {
      const v = sample.scores[i];
      if (labels[i]) {
        pos[p] = v;
        regionEvents[p++] = packRegionEvent(v, firstRegion + labels[i] - 1);
      } else {
        neg[n++] = v;
      }
    }
  }
  pos.sort();
  neg.sort();
  regionEvents.sort();
  const ranking = rankingMetrics(pos, neg);
  const regionCount = regionWeights.length;
  const { pro, curve } = perRegionOverlap(
    regionEvents,
    neg,
    regionWeights.map((w) => w / regionCount),
    proLimit,
  );
  return ok({ ...ranking, pro, proCurve: curve });
}

/** AUROC (trapezoids), AP and F1-max from ascending-sorted positive and negative scores. */
function rankingMetrics(pos: Float32Array | Float64Array, neg: Float32Array | Float64Array): RankingMetrics {
  const P = pos.length;
  const N = neg.length;
  let auroc = 0;
  let ap = 0;
  let f1max = 0;
  let f1Threshold = Infinity;
  let prevTp = 0;
  let prevFp = 0;
  const roc = new CurveThinner(1 / curvePoints);
  let i = P - 1;
  let j = N - 1;
  while (i >= 0 || j >= 0) {
    const v = i < 0 ? neg[j] : j < 0 ? pos[i] : Math.max(pos[i], neg[j]);
    while (i >= 0 && pos[i] === v) i--;
    while (j >= 0 && neg[j] === v) j--;
    const tp = P - 1 - i;
    const fp = N - 1 - j;
    auroc += ((fp - prevFp) * (tp + prevTp)) / 2;
    ap += (tp - prevTp) * (tp / (tp + fp));
    const f1 = (2 * tp) / (tp + fp + P);
    if (f1 > f1max) {
      f1max = f1;
      f1Threshold = v;
    }
    roc.add(fp / N, tp / P);
    prevTp = tp;
    prevFp = fp;
  }
  return { auroc: auroc / (P * N), ap: ap / P, f1max, f1Threshold, roc: roc.points() };
}

/**
 * MVTec AUPRO: at each threshold, FPR over all normal pixels and the mean over all ground-truth
 * regions of the fraction of the region above the threshold; the curve starts at (0,0), is
 * integrated with trapezoids up to FPR `limit` (interpolating the point at `limit`) and divided by
 * `limit`. `events` are the anomalous pixels packed as (score, region), ascending.
 */
function perRegionOverlap(events: Float64Array, neg: Float32Array, weights: number[], limit: number): { pro: number; curve: CurvePoint[] } {
  const N = neg.length;
  const curve = new CurveThinner(limit / curvePoints);
  let area = 0;
  let prevX = 0;
  let prevY = 0;
  let overlap = 0;
  let i = events.length - 1;
  let j = N - 1;
  while (i >= 0 || j >= 0) {
    const v = i < 0 ? neg[j] : j < 0 ? eventScore(events[i]) : Math.max(eventScore(events[i]), neg[j]);
    for (; i >= 0 && eventScore(events[i]) === v; i--) overlap += weights[eventRegion(events[i])];
    while (j >= 0 && neg[j] === v) j--;
    const x = (N - 1 - j) / N;
    const y = Math.min(overlap, 1); // float sums of 1/(|region| R) may overshoot 1 by an ulp
    if (x >= limit) {
      const yAtLimit = x === prevX ? y : prevY + ((y - prevY) * (limit - prevX)) / (x - prevX);
      area += ((limit - prevX) * (prevY + yAtLimit)) / 2;
      curve.add(limit, yAtLimit);
      break;
    }
    area += ((x - prevX) * (prevY + y)) / 2;
    curve.add(x, y);
    prevX = x;
    prevY = y;
  }
  return { pro: area / limit, curve: curve.points() };
}

// Anomalous pixels are sorted by score together with their region id by packing both into one
// float64: an order-preserving 32-bit key of the float32 score, times 2^21, plus the region index.
const regionBits = 2 ** 21;
const maxRegions = regionBits;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function packRegionEvent(score: number, region: number): number {
  f32[0] = score === 0 ? 0 : score; // -0 and +0 are one score
  const bits = u32[0];
  const key = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
  return key * regionBits + region;
}

function eventScore(event: number): number {
  const key = Math.floor(event / regionBits);
  u32[0] = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return f32[0];
}

function eventRegion(event: number): number {
  return event - Math.floor(event / regionBits) * regionBits;
}

/** Keeps curve points at least `step` apart in x or y (plus the first and last), for plotting. */
class CurveThinner {
  private readonly kept: CurvePoint[] = [{ x: 0, y: 0 }];
  private last: CurvePoint | null = null;
  constructor(private readonly step: number) {}

  add(x: number, y: number): void {
    this.last = { x, y };
    const prev = this.kept[this.kept.length - 1];
    if (x - prev.x >= this.step || y - prev.y >= this.step) this.kept.push(this.last);
  }

  points(): CurvePoint[] {
    const end = this.kept[this.kept.length - 1];
    if (this.last && (end.x !== this.last.x || end.y !== this.last.y)) this.kept.push(this.last);
    return this.kept;
  }
}

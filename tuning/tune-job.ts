// One tuning run, as `linewatch tune` (and through it the agent's re-tune) performs it:
//
//   normals -> vision.onnx (attention, patch features, scores under the current prompts)
//   -> split: train / calibration / gate normals
//   -> OAGM anomalies from the training normals and, separately, from the held-out normals
//   -> patch features of the training anomalies -> prompt learning (MPTS or task loss only)
//   -> memory bank from the training normals' patch embeddings (already computed above)
//   -> vision.onnx with the new text embeddings, and memory.onnx with the new bank, on the
//      held-out normals and anomalies: each scorer's maps, each calibrated on its own scores
//      (threshold from the calibration normals only; the set's `calibration` and
//      `memory.calibration`)
//   -> gate on the scorers the agent combines (`scorers`, its detector.scorers: prompt and
//      memory, or the prompts alone for `--scorers prompt` or a bundle without memory.onnx),
//      their maps combined exactly as the agent combines them (held-out-judgement.ts): synthetic
//      AUROC on all held-out images, normal FPR on the gate normals, which no threshold saw,
//      against the current set measured the same way on the SAME held-out images (with its own
//      bank when it has one, prompt-only when it has none)
//   -> prompt store commit (accepted sets become current unless `activate` is false; rejected
//      ones are kept with reasons).
//
// The split. Held out: max(2, floor(n / 3)) normals, half of them (rounded down) gate normals,
// the rest calibration normals; the others train. So 3 normals is the minimum (1 train, 1
// calibration, 1 gate); 16 give 11 / 3 / 2. Measuring the false-positive rate on the normals the
// threshold was set from would meet any target by construction; on gate normals it is a real
// check, however coarse with a handful of frames. Held-out anomalies come from held-out normals
// so that no training image (or a perturbed copy of it) is scored.
import path from 'node:path';
import type { ExecutionProvider } from '../models/runtime/execution-providers.ts';
import { err, ok, type Result } from '../util/result.ts';
import { bundleMismatch } from './bundle-identity.ts';
import { defaultTargetFpr } from './calibration.ts';
import { defaultGateOptions, gate } from './gate.ts';
import { type HeldOutCounts, type HeldOutMaps, type Judged, judgeCombined, judgeScorer, type ScorerJudgement } from './held-out-judgement.ts';
import { listImageFiles, readRgbImages } from './images.ts';
import { type AnalysedNormals, derivedSeed, emptyTimings, learnPrompts, type PhaseTimings, synthesizeFrom, syntheticCount, timed } from './learn-prompts.ts';
import { bankSizes, buildMemoryBank, DEFAULT_MAX_PATCHES, type MemoryBank } from './memory-bank.ts';
import { encodeMemoryBank, type MemoryEntry, memoryFileName, sha256Of } from './memory-bank-file.ts';
import type { OagmOptionsInput } from './oagm.ts';
import { newPromptSetId, type PromptSet, type PromptSetStatus, textEmbedRows, textEmbedsOf, tokenRows } from './prompt-set.ts';
import { type LoadedPromptSet, PromptStore } from './prompt-store.ts';
import { createRng } from './rng.ts';
import { SCORER_NAMES, type ScorerName, scorersInUse } from './scorer-names.ts';
import { defaultTrainOptions, type Guidance } from './train.ts';
import { openTuningModels, type TuningModels } from './tuning-models.ts';

export const MIN_NORMALS = 3;

export type TunePhase = 'synthesis' | 'features' | 'steps' | 'calibration';

export interface TuneJobOptions {
  bundleDir: string;
  /** A folder of normal images (not recursive), or the image files themselves. */
  normals: string | string[];
  /** Prompt store directory. */
  outDir: string;
  steps?: number;
  seed?: number;
  guidance?: Guidance;
  lambda?: number;
  oagm?: OagmOptionsInput;
  targetFpr?: number;
  /** Gate: how much lower the synthetic AUROC may be than the current set's. */
  epsilon?: number;
  /** Execution providers to try, in order (the agent passes model.execution_providers); cpu is added last. Default: cpu. */
  providers?: ExecutionProvider[];
  /** `memory.max_patches`: a layer's bank above this is subsampled by greedy coreset (default 20,000). */
  maxPatches?: number;
  /**
   * The scorers the gate judges, combined in this order: the `detector.scorers` of the agent the
   * set is for, so the gate judges what that agent publishes. One the set (or the current set)
   * cannot have is left out, as the agent leaves it out. Default: prompt, memory.
   */
  scorers?: readonly ScorerName[];
  onProgress?: (phase: TunePhase, done: number, total: number) => void;
  /** False: an accepted set is written but not made current (the caller activates it). Default true. */
  activate?: boolean;
  /** Problems that do not stop the run (a current set for another bundle). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface TuneJobResult {
  set: PromptSet;
  path: string;
  status: PromptSetStatus;
  /** Whether the set was made current. */
  current: boolean;
  /** Why the gate rejected the set (empty when accepted). */
  reasons: string[];
  timings: PhaseTimings & { memory: number };
}

/** The normals split: indices into the normal images. */
export interface NormalSplit {
  train: number[];
  calibration: number[];
  gate: number[];
}

/** The split described at the top of this file, shuffled by `seed`. */
export function splitNormals(n: number, seed: number): NormalSplit {
  if (n < MIN_NORMALS) throw new RangeError(`tuning needs at least ${MIN_NORMALS} normal images, got ${n}`);
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed, SPLIT_STREAM);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = Math.max(2, Math.floor(n / 3));
  const gateCount = Math.floor(held / 2);
  const byIndex = (a: number, b: number) => a - b;
  return {
    gate: order.slice(0, gateCount).sort(byIndex),
    calibration: order.slice(gateCount, held).sort(byIndex),
    train: order.slice(held).sort(byIndex),
  };
}

// Independent random streams of one run's seed.
const SPLIT_STREAM = 1;
const TRAIN_SYNTHESIS_STREAM = 2;
const HELD_OUT_SYNTHESIS_STREAM = 3;

/** Rows `indices` of a [count, width] array, in that order. */
function pickRows(values: Float32Array, indices: number[], width: number): Float32Array {
  const picked = new Float32Array(indices.length * width);
  indices.forEach((i, r) => picked.set(values.subarray(i * width, (i + 1) * width), r * width));
  return picked;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const joined = new Float32Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

export async function runTuneJob(options: TuneJobOptions): Promise<Result<TuneJobResult>> {
  const files = typeof options.normals === 'string' ? await listImageFiles(options.normals) : ok(options.normals);
  if (!files.ok) return err(`normal images: ${files.error}`);
  if (files.value.length < MIN_NORMALS) {
    const where = typeof options.normals === 'string' ? ` in ${options.normals}` : '';
    return err(`tuning needs at least ${MIN_NORMALS} normal images (1 to train on, 1 to calibrate, 1 to check the gate); found ${files.value.length}${where}`);
  }
  const models = await openTuningModels(options.bundleDir, { providers: options.providers });
  if (!models.ok) return err(models.error);
  try {
    return await tune(models.value, files.value, options);
  } finally {
    await models.value.release();
  }
}

async function tune(models: TuningModels, files: string[], options: TuneJobOptions): Promise<Result<TuneJobResult>> {
  const seed = options.seed ?? defaultTrainOptions.seed;
  const steps = options.steps ?? defaultTrainOptions.steps;
  const guidance = options.guidance ?? 'mpts';
  const lambda = options.lambda ?? defaultTrainOptions.lambda;
  const targetFpr = options.targetFpr ?? defaultTargetFpr;
  const epsilon = options.epsilon ?? defaultGateOptions.epsilon;
  const scorers = options.scorers ?? SCORER_NAMES;
  const progress = options.onProgress ?? (() => {});
  const timings = { ...emptyTimings(), memory: 0 };
  const { vision } = models;

  const store = new PromptStore(path.resolve(options.outDir));
  const current = await currentSet(store, models, options.onWarning);

  const images = await readRgbImages(files, vision.size);
  if (!images.ok) return images;
  const n = files.length;
  const split = splitNormals(n, seed);
  const held = [...split.calibration, ...split.gate];
  const trainCount = syntheticCount(split.train.length);
  const heldCount = syntheticCount(held.length);
  const synthesisTotal = n + trainCount + heldCount;

  // One pass over every normal: attention for OAGM, patch features for training and the memory
  // bank, and the maps of the current prompts on the held-out normals.
  const scoringEmbeds = current ? textEmbedsOf(current.set) : models.metaTextEmbeds;
  const normals: AnalysedNormals = {
    images: images.value,
    vision: await timed(timings, 'features', () =>
      vision.run(images.value, scoringEmbeds, {
        patchEmbeds: true,
        anomalyMaps: current !== null,
        onImages: (done) => progress('synthesis', done, synthesisTotal),
      }),
    ),
  };
  const oagm = options.oagm ?? {};
  const trainSynthetic = await timed(timings, 'synthesis', () =>
    synthesizeFrom(normals, split.train, trainCount, derivedSeed(seed, TRAIN_SYNTHESIS_STREAM), oagm),
  );
  progress('synthesis', n + trainCount, synthesisTotal);
  const heldSynthetic = await timed(timings, 'synthesis', () => synthesizeFrom(normals, held, heldCount, derivedSeed(seed, HELD_OUT_SYNTHESIS_STREAM), oagm));
  progress('synthesis', synthesisTotal, synthesisTotal);

  const featureTotal = trainCount + (current ? heldCount : 0);
  const trained = await learnPrompts(
    models,
    normals,
    split.train,
    trainSynthetic,
    {
      steps,
      seed,
      guidance,
      lambda,
      onFeatures: (done) => progress('features', done, featureTotal),
      onStep: (r) => progress('steps', r.step, r.steps),
      signal: options.signal,
    },
    timings,
  );

  const currentAnomalies = current
    ? await timed(timings, 'features', () =>
        vision.run(
          heldSynthetic.map((s) => s.image),
          textEmbedsOf(current.set),
          { anomalyMaps: true, onImages: (done) => progress('features', trainCount + done, featureTotal) },
        ),
      )
    : null;

  // The held-out images in the order the judgement takes: calibration normals, gate normals, anomalies.
  const counts: HeldOutCounts = { calibration: split.calibration.length, gate: split.gate.length, anomalies: heldSynthetic.length };
  const heldImages = [...held.map((i) => images.value[i]), ...heldSynthetic.map((s) => s.image)];
  const scored = await timed(timings, 'calibration', () =>
    vision.run(heldImages, trained.textEmbeds, {
      patchEmbeds: models.memory !== null,
      anomalyMaps: true,
      onImages: (done) => progress('calibration', done, heldImages.length),
    }),
  );
  const promptHeld: HeldOutMaps = { maps: scored.anomalyMaps!, scores: scored.anomalyScores };
  const prompt = judgeScorer(promptHeld, counts, targetFpr);
  if (!prompt.ok) return err(`the learned prompts cannot be calibrated: ${prompt.error}`);
  const memory = await timed(timings, 'memory', () => memoryOf(models, normals, split, scored.patchEmbeds, counts, targetFpr, seed, options));
  const candidate = combinedJudgement({ prompt: { held: promptHeld, judged: prompt.value }, ...(memory ? { memory } : {}) }, scorers, counts);
  if (!candidate.ok) return err(`the tuned set cannot be judged: ${candidate.error}`);

  let compared: SetJudgement | null = null;
  if (current) {
    const pixels = vision.size * vision.size;
    const currentPrompt: HeldOutMaps = {
      maps: concat(pickRows(normals.vision.anomalyMaps!, held, pixels), currentAnomalies!.anomalyMaps!),
      scores: concat(pickRows(normals.vision.anomalyScores, held, 1), currentAnomalies!.anomalyScores),
    };
    const measured = await timed(timings, 'memory', () => judgeCurrent(models, current, currentPrompt, scored.patchEmbeds, scorers, counts, targetFpr));
    // A current set that cannot even be calibrated on this data is no bar to clear.
    if (measured.ok) compared = measured.value;
    else options.onWarning?.(`the current prompt set ${current.set.id} could not be measured on the held-out images (${measured.error}); gating without it`);
  }
  const decision = gate(candidate.value.combined.gate, compared?.combined.gate ?? null, { epsilon, targetFpr });

  const name = (i: number) => path.basename(files[i]);
  const id = newPromptSetId();
  const memoryBytes = memory ? encodeMemoryBank(memory.bank, id, models.identity.sha256, models.bundle.manifest.vision.layers) : undefined;
  const set: PromptSet = {
    id,
    created: new Date().toISOString(),
    status: decision.accepted ? 'accepted' : 'rejected',
    reasons: decision.reasons,
    bundle: models.identity,
    tokens: tokenRows(trained.tokens),
    text_embeds: textEmbedRows(trained.textEmbeds),
    calibration: prompt.value.calibration,
    ...(memory && memoryBytes
      ? { memory: { ...memory.entry, calibration: memory.judged.calibration, file: memoryFileName(id), sha256: sha256Of(memoryBytes) } }
      : {}),
    metrics: {
      ...judgedMetrics('', candidate.value.combined),
      ...judgedMetrics('prompt_', prompt.value),
      ...(memory ? judgedMetrics('memory_', memory.judged) : {}),
      ...(compared ? { current_synthetic_auroc: compared.combined.gate.syntheticAuroc, current_normal_fpr: compared.combined.gate.normalFpr } : {}),
      ...(trained.last ? { task_loss: trained.last.task, ...(trained.last.meta !== null ? { meta_loss: trained.last.meta } : {}) } : {}),
      conflicting_steps: trained.conflicts,
    },
    config: {
      steps,
      seed,
      guidance,
      lambda,
      layout: trained.tokens.layout,
      init: defaultTrainOptions.init,
      target_fpr: targetFpr,
      gate_epsilon: epsilon,
      object_mask: oagm.object?.useObjectMask ?? true,
      scorers: candidate.value.scorers,
      compared_with: compared ? current!.set.id : null,
      compared_scorers: compared ? compared.scorers : null,
    },
    data: {
      ...(typeof options.normals === 'string' ? { normals_dir: path.resolve(options.normals) } : {}),
      train: split.train.map(name),
      calibration: split.calibration.map(name),
      gate: split.gate.map(name),
      train_synthetic: trainSynthetic.length,
      held_out_synthetic: heldSynthetic.length,
    },
  };
  const committed = await store.commit(set, memoryBytes, { activate: options.activate ?? true });
  if (!committed.ok) return committed;
  return ok({ set, path: committed.value.path, status: set.status, current: committed.value.current, reasons: decision.reasons, timings });
}

/** `synthetic_auroc`, `normal_fpr`, `synthetic_tpr` under `prefix`. */
function judgedMetrics(prefix: string, judged: Judged): Record<string, number> {
  return {
    [`${prefix}synthetic_auroc`]: judged.gate.syntheticAuroc,
    [`${prefix}normal_fpr`]: judged.gate.normalFpr,
    [`${prefix}synthetic_tpr`]: judged.syntheticTpr,
  };
}

/** A scorer of a set, measured on the held-out images and calibrated there. */
interface MeasuredScorer {
  held: HeldOutMaps;
  judged: ScorerJudgement;
}

interface SetJudgement {
  /** The scorers combined, in combination order. */
  scorers: ScorerName[];
  combined: Judged;
}

/** The scorers of `use` the set has, combined as the agent combines them. */
function combinedJudgement(measured: Partial<Record<ScorerName, MeasuredScorer>>, use: readonly ScorerName[], counts: HeldOutCounts): Result<SetJudgement> {
  const names = scorersInUse(use, (name) => measured[name] !== undefined);
  const parts = names.map((name) => ({ held: measured[name]!.held, scale: measured[name]!.judged.calibration }));
  const combined = judgeCombined(parts, counts);
  return combined.ok ? ok({ scorers: names, combined: combined.value }) : combined;
}

/**
 * The current set on the same held-out images, measured as the candidate is: its prompts'
 * maps (`prompt`), and its own bank's maps over the same patch embeddings when it has a bank and
 * memory is judged; each scorer calibrated on the calibration normals afresh.
 */
async function judgeCurrent(
  models: TuningModels,
  current: LoadedPromptSet,
  prompt: HeldOutMaps,
  heldPatchEmbeds: Float32Array | null,
  use: readonly ScorerName[],
  counts: HeldOutCounts,
  targetFpr: number,
): Promise<Result<SetJudgement>> {
  const promptJudged = judgeScorer(prompt, counts, targetFpr);
  if (!promptJudged.ok) return err(`prompts: ${promptJudged.error}`);
  const measured: Partial<Record<ScorerName, MeasuredScorer>> = { prompt: { held: prompt, judged: promptJudged.value } };
  if (use.includes('memory') && current.memory && models.memory && heldPatchEmbeds) {
    const scores = await models.memory.run(heldPatchEmbeds, current.memory, { maps: true });
    const held = { maps: scores.maps!, scores: scores.scores };
    const judged = judgeScorer(held, counts, targetFpr);
    if (!judged.ok) return err(`memory bank: ${judged.error}`);
    measured.memory = { held, judged: judged.value };
  }
  return combinedJudgement(measured, use, counts);
}

interface BuiltMemory extends MeasuredScorer {
  bank: MemoryBank;
  entry: Omit<MemoryEntry, 'file' | 'sha256' | 'calibration'>;
}

/**
 * The bank of the training normals and its maps and calibration on the held-out images, which
 * `heldPatchEmbeds` holds in HeldOutCounts order. Null (with a warning) when the bundle has no
 * memory graph or the memory score cannot be calibrated: the set is then prompt-only, as before
 * the memory scorer existed.
 */
async function memoryOf(
  models: TuningModels,
  normals: AnalysedNormals,
  split: NormalSplit,
  heldPatchEmbeds: Float32Array | null,
  counts: HeldOutCounts,
  targetFpr: number,
  seed: number,
  options: TuneJobOptions,
): Promise<BuiltMemory | null> {
  if (!models.memory || !heldPatchEmbeds) {
    options.onWarning?.(`${models.memoryMissing}; the prompt set has no memory bank`);
    return null;
  }
  const { vision } = models;
  const maxPatches = options.maxPatches ?? DEFAULT_MAX_PATCHES;
  const built = buildMemoryBank(
    normals.vision.patchEmbeds!,
    split.train,
    { layers: vision.layers, patches: vision.patches, embedDim: vision.embedDim },
    { maxPatches, seed },
  );
  const scores = await models.memory.run(heldPatchEmbeds, built.bank, { maps: true });
  const held = { maps: scores.maps!, scores: scores.scores };
  const judged = judgeScorer(held, counts, targetFpr);
  if (!judged.ok) {
    options.onWarning?.(`the memory score cannot be calibrated (${judged.error}); the prompt set has no memory bank`);
    return null;
  }
  const entry = {
    layers: models.bundle.manifest.vision.layers,
    patches: bankSizes(built.bank),
    max_patches: maxPatches,
    coreset: built.coreset,
  };
  return { bank: built.bank, entry, held, judged: judged.value };
}

/** The store's current set (with its verified bank) when it fits this bundle; otherwise null (with a warning). */
async function currentSet(store: PromptStore, models: TuningModels, warn: ((message: string) => void) | undefined): Promise<LoadedPromptSet | null> {
  const loaded = await store.loadCurrent();
  if (!loaded.ok) {
    // An empty store: the first set. Otherwise every stored set is unusable, which deserves a word.
    if (!(await store.isEmpty())) warn?.(`${loaded.error}; the new set is gated without a current set to compare with`);
    return null;
  }
  if (loaded.value.warning) warn?.(loaded.value.warning);
  const mismatch = bundleMismatch(loaded.value.set, models.identity);
  if (mismatch) {
    // The agent scores with the meta prompts until a set for its bundle exists, so re-tuning is
    // how it recovers from a bundle change: the old set is no comparison, not a failure.
    warn?.(`${mismatch}; the new set is gated without comparing to it`);
    return null;
  }
  return loaded.value;
}

// Prompt learning on cached patch features. Each step:
//   prompts -> text.onnx -> t [2,E] -> L_task, L_meta and their gradients wrt t (analytic)
//   -> ONE text_vjp.onnx call with the prompt pair stacked twice, P = 4 rows
//      [normal, anomalous] with the task gradients, [normal, anomalous] with the meta gradients
//      (the reverse pass is linear in its upstream gradient, so the rows stay separate)
//   -> g_task, g_meta on the learnable tokens -> MPTS projection -> Adam.
// Full batch over all cached images, so a run is a deterministic function of its inputs and the
// seed (which only enters through the prompt initialisation).
import { Adam, type AdamOptions } from './adam.ts';
import type { ClipTextEncoder, PromptVocabulary } from './clip-text-encoder.ts';
import { anomalyProbabilities, type LossOptions, type PatchFeatures, promptLosses, type TaskTargets } from './losses.ts';
import { mptsProject } from './mpts.ts';
import {
  assemblePrompts,
  gatherPromptGrad,
  initPromptTokens,
  type PromptInit,
  type PromptLayout,
  type PromptTokens,
  promptEotIndex,
  promptLength,
} from './prompt-learner.ts';
import { createRng } from './rng.ts';

export interface TrainData {
  /** Unit patch features of every training image (normal and synthetic). */
  features: PatchFeatures;
  targets: TaskTargets;
}

/** 'mpts': meta-guided (the method); 'none': task loss only (the "no MPTS" ablation). */
export type Guidance = 'mpts' | 'none';

export interface TrainOptions {
  steps: number;
  seed: number;
  layout: Omit<PromptLayout, 'width'>;
  init: PromptInit;
  guidance: Guidance;
  /** MPTS projection strength (1 = remove the whole conflicting component). */
  lambda: number;
  adam: Partial<AdamOptions>;
  loss: Partial<Omit<LossOptions, 'weights'>> & { weights?: Partial<LossOptions['weights']> };
  onProgress?: (report: StepReport) => void;
  /** Checked before every step; an aborted run rejects with the signal's reason. */
  signal?: AbortSignal;
}

export const defaultTrainOptions: TrainOptions = {
  steps: 300,
  seed: 0,
  layout: { shared: 4, state: 4 },
  init: { kind: 'random', std: 0.02 },
  guidance: 'mpts',
  lambda: 1,
  adam: {},
  loss: {},
};

export interface StepReport {
  /** 1-based */
  step: number;
  steps: number;
  /** Losses at the parameters before this step's update. */
  task: number;
  focal: number;
  dice: number;
  bce: number;
  /** null without meta guidance. */
  meta: number | null;
  conflicting: boolean;
  /** cos(g_task, g_meta) on the prompt tokens; 0 without meta guidance. */
  cosine: number;
}

export interface TrainResult {
  tokens: PromptTokens;
  /** Text embeddings [2,E] of the final prompts (normal, anomalous). */
  textEmbeds: Float32Array;
  /** Report of the last step (null for 0 steps). */
  last: StepReport | null;
  /** Steps where g_task and g_meta conflicted. */
  conflicts: number;
}

/**
 * Learns the prompt tokens. `metaTextEmbeds` [2,E] (from encodeMetaPrompts) is required for
 * guidance 'mpts'. `width` of the layout comes from the vocabulary's token embeddings.
 */
export async function trainPrompts(
  encoder: ClipTextEncoder,
  vocab: PromptVocabulary,
  data: TrainData,
  metaTextEmbeds: Float32Array | null,
  input: Partial<TrainOptions> = {},
): Promise<TrainResult> {
  const options = { ...defaultTrainOptions, ...input };
  const { features, targets } = data;
  if (features.B === 0) throw new RangeError('prompt tuning needs at least one training image');
  if (options.guidance === 'mpts' && !metaTextEmbeds) throw new RangeError('MPTS needs the meta-prompt text embeddings');
  const width = vocab.tokenEmbedding(vocab.sot).length;
  const layout: PromptLayout = { ...options.layout, width };
  const tokens = initPromptTokens(layout, vocab, options.init, createRng(options.seed));
  const S = promptLength(layout);
  const pairEot = promptEotIndex(layout, 1);
  const guided = options.guidance === 'mpts' && metaTextEmbeds !== null;
  const metaProbabilities = guided
    ? anomalyProbabilities(features, checkWidth(metaTextEmbeds, features.E, 'meta text embeddings'), options.loss.logitScale)
    : null;
  const adam = new Adam(tokens.params.length, options.adam);
  const encode = async () => checkWidth(await encoder.encode(assemblePrompts(tokens), 2, S, pairEot), features.E, 'text encoder output');

  let last: StepReport | null = null;
  let conflicts = 0;
  for (let step = 1; step <= options.steps; step++) {
    options.signal?.throwIfAborted();
    const text = await encode();
    const { task, meta } = promptLosses(features, targets, metaProbabilities, text, options.loss);
    if (!Number.isFinite(task.value) || (meta && !Number.isFinite(meta.value))) {
      throw new Error(`prompt tuning diverged at step ${step} (task loss ${task.value}, meta loss ${meta?.value})`);
    }
    let grad: Float32Array;
    let conflicting = false;
    let cosine = 0;
    if (meta) {
      const upstream = new Float32Array(4 * features.E);
      upstream.set(task.grad, 0);
      upstream.set(meta.grad, 2 * features.E);
      const promptGrad = await encoder.vjp(assemblePrompts(tokens, 2), 4, S, promptEotIndex(layout, 2), upstream);
      const projection = mptsProject(gatherPromptGrad(layout, promptGrad, 0), gatherPromptGrad(layout, promptGrad, 1), options.lambda);
      ({ grad, conflicting, cosine } = projection);
      if (conflicting) conflicts++;
    } else {
      const promptGrad = await encoder.vjp(assemblePrompts(tokens), 2, S, pairEot, Float32Array.from(task.grad));
      grad = gatherPromptGrad(layout, promptGrad, 0);
    }
    adam.step(tokens.params, grad);
    last = { step, steps: options.steps, task: task.value, focal: task.focal, dice: task.dice, bce: task.bce, meta: meta?.value ?? null, conflicting, cosine };
    options.onProgress?.(last);
  }
  return { tokens, textEmbeds: await encode(), last, conflicts };
}

function checkWidth(text: Float32Array, E: number, what: string): Float32Array {
  if (text.length !== 2 * E) {
    throw new RangeError(`${what} has ${text.length} values, expected 2 x ${E} (the patch features' width): bundle mismatch?`);
  }
  return text;
}

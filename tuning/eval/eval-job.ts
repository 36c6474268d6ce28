// `linewatch eval`: every category of an MVTec-AD-layout dataset through evaluate-category.ts,
// then metrics.json (per category and mean, with timings; the chosen scorer's metrics at the top
// level of each, every scorer's under `scorers`), scores.csv (path,label,score per test image, the
// chosen scorer's score) and report.html in the output folder.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ExecutionProvider } from '../../models/runtime/execution-providers.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { err, ok, type Result } from '../../util/result.ts';
import { bundleMismatch } from '../bundle-identity.ts';
import { readMemoryBank } from '../memory-bank-file.ts';
import { readPromptSetFile } from '../prompt-set.ts';
import { openTuningModels } from '../tuning-models.ts';
import {
  type CategoryMetrics,
  type CategoryResult,
  type EvalTimings,
  evaluateCategory,
  type GivenPrompts,
  METRIC_KEYS,
  type ReportedScorer,
  reportedScorers,
  type ScorerChoice,
  type ShotTuning,
} from './evaluate-category.ts';
import { discoverCategories } from './mvtec-dataset.ts';
import { renderReport } from './report-html.ts';

export interface EvalJobOptions extends ShotTuning {
  bundleDir: string;
  datasetDir: string;
  /** Category names to evaluate; empty = all. */
  categories: string[];
  /** A prompt set file to score with instead of tuning. */
  promptsFile: string | null;
  /** prompt, memory, or both (default): see evaluate-category.ts. */
  scorer?: ScorerChoice;
  outDir: string;
  /** Execution providers to try, in order (the agent passes model.execution_providers); cpu is added last. Default: cpu. */
  providers?: ExecutionProvider[];
  onProgress?: (category: string, phase: string, done: number, total: number) => void;
}

export interface EvalJobResult {
  categories: CategoryResult[];
  mean: CategoryMetrics;
  meanByScorer: Partial<Record<ReportedScorer, CategoryMetrics>>;
  files: { metrics: string; scores: string; report: string };
  totalMs: number;
}

export const THUMBNAILS_PER_CATEGORY = 12;
export const THUMBNAIL_SIZE = 160;

export async function runEvalJob(o: EvalJobOptions): Promise<Result<EvalJobResult>> {
  const started = performance.now();
  const scorer = o.scorer ?? 'both';
  const given = o.promptsFile ? await readGivenPrompts(o.promptsFile, scorer) : null;
  if (given && !given.ok) return given;
  const set = given?.ok ? given.value.set : null;
  const categories = await discoverCategories(o.datasetDir, o.categories);
  if (!categories.ok) return categories;
  const models = await openTuningModels(o.bundleDir, { providers: o.providers });
  if (!models.ok) return models;
  try {
    if (set) {
      const mismatch = bundleMismatch(set, models.value.identity);
      if (mismatch) return err(`${mismatch}: scores from it would mean nothing`);
    }
    const results: CategoryResult[] = [];
    for (const category of categories.value) {
      const result = await evaluateCategory(models.value, category, {
        shots: o.shots,
        seed: o.seed,
        steps: o.steps,
        guidance: o.guidance,
        lambda: o.lambda,
        useObjectMask: o.useObjectMask,
        promptSet: given?.value ?? null,
        scorer,
        thumbnails: THUMBNAILS_PER_CATEGORY,
        thumbnailSize: THUMBNAIL_SIZE,
        onProgress: (phase, done, total) => o.onProgress?.(category.name, phase, done, total),
      });
      if (!result.ok) return result;
      results.push(result.value);
    }
    const meanOf = (pick: (r: CategoryResult) => CategoryMetrics) =>
      Object.fromEntries(METRIC_KEYS.map((k) => [k, results.reduce((s, r) => s + pick(r)[k], 0) / results.length])) as CategoryMetrics;
    const mean = meanOf((r) => r.metrics);
    const meanByScorer = Object.fromEntries(reportedScorers(scorer).map((name) => [name, meanOf((r) => r.byScorer[name]!)]));
    const totalMs = performance.now() - started;
    const root = path.resolve(o.datasetDir);
    const settings = {
      bundle: `${models.value.identity.id} (manifest sha256 ${models.value.identity.sha256.slice(0, 12)}…)`,
      laa: models.value.bundle.manifest.vision.laa.enabled,
      image_size: models.value.vision.size,
      prompts: set ? path.resolve(o.promptsFile!) : `tuned on ${o.shots} shot(s) per category`,
      scorer: scorer === 'both' ? 'both (mean of the prompt and memory maps, each on its calibrated 0..1 scale)' : scorer,
      steps: set ? null : o.steps,
      guidance: set ? null : o.guidance,
      lambda: set ? null : o.lambda,
      object_mask: set ? null : o.useObjectMask,
      seed: o.seed,
    };

    await fs.mkdir(o.outDir, { recursive: true });
    const files = { metrics: path.join(o.outDir, 'metrics.json'), scores: path.join(o.outDir, 'scores.csv'), report: path.join(o.outDir, 'report.html') };
    const metricsJson = {
      dataset: root,
      settings,
      categories: Object.fromEntries(
        results.map((r) => [
          r.name,
          { ...r.metrics, scorers: r.byScorer, test_images: r.scores.length, shots: r.shots.map((s) => path.relative(root, s)), timings_s: seconds(r.timings) },
        ]),
      ),
      mean: { ...mean, scorers: meanByScorer },
      timings_s: { total: totalMs / 1000 },
    };
    await writeFileAtomic(files.metrics, `${JSON.stringify(metricsJson, null, 2)}\n`);
    const csv = ['path,label,score', ...results.flatMap((r) => r.scores.map((s) => `${csvField(path.relative(root, s.path))},${s.label},${s.score}`))];
    await writeFileAtomic(files.scores, `${csv.join('\n')}\n`);
    await writeFileAtomic(
      files.report,
      renderReport({ title: `linewatch eval: ${path.basename(root)}`, settings, categories: results, mean, meanByScorer, datasetRoot: root }),
    );
    return ok({ categories: results, mean, meanByScorer, files, totalMs });
  } finally {
    await models.value.release();
  }
}

/** A prompt set file and, beside it, its memory bank (verified) when the scorer needs it. */
async function readGivenPrompts(file: string, scorer: ScorerChoice): Promise<Result<GivenPrompts>> {
  const set = await readPromptSetFile(file);
  if (!set.ok) return set;
  if (scorer === 'prompt' || !set.value.memory) return ok({ set: set.value, memory: null });
  const memory = await readMemoryBank(path.join(path.dirname(file), set.value.memory.file), set.value);
  return memory.ok ? ok({ set: set.value, memory: memory.value }) : memory;
}

/** Timings in seconds (eval has no calibration phase; its tuning uses every shot). */
function seconds(t: EvalTimings): Record<string, number> {
  const { synthesis, features, steps, inference, metrics } = t;
  return Object.fromEntries(Object.entries({ synthesis, features, steps, inference, metrics }).map(([k, v]) => [k, Math.round(v) / 1000]));
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

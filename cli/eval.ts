// `linewatch eval`: MVTec-AD-style evaluation (tuning/eval/eval-job.ts).

import { runEvalJob } from '../tuning/eval/eval-job.ts';
import { METRIC_KEYS, SCORER_CHOICES } from '../tuning/eval/evaluate-category.ts';
import { UserError } from '../util/result.ts';
import { oneOf, parseOptions, realNumber, required, runCommand, wholeNumber } from './args.ts';
import { createPhaseProgress, defaultProgressMode } from './phase-progress.ts';
import { PROVIDERS_USAGE, providersOption } from './providers-option.ts';

const DEFAULT_SHOTS = 4;
const DEFAULT_STEPS = 300;

const usage = `usage: linewatch eval --bundle DIR --dataset DIR --out DIR [--category NAME ...] [--shots K]
                      [--prompts FILE] [--scorer prompt|memory|both] [--seed S] [--providers LIST] [--steps N] [--no-mpts] [--lambda X]
                      [--no-object-mask] [--progress bar|plain]

Evaluates on an MVTec-AD-layout dataset (train/good, test/<type>, ground_truth/<type>/NNN_mask.png):
tunes prompts and a patch memory on K normal shots from train/good per category (or scores with
--prompts and its memory bank), and writes metrics.json (image_auroc, image_ap, image_f1max,
pixel_auroc, pro, pixel_f1max per category and mean, for every scorer used, with timings),
scores.csv (path,label,score of the chosen scorer) and report.html.

  --bundle DIR        model bundle (build it with --no-laa for the LAA ablation)
  --dataset DIR       one category folder (with train/good) or a folder of categories
  --out DIR           output folder (created if missing)
  --category NAME     evaluate only this category (repeatable, or NAME,NAME)
  --shots K           normal shots per category, chosen by --seed (default ${DEFAULT_SHOTS})
  --prompts FILE      score with this prompt set instead of tuning (must fit the bundle)
  --scorer NAME       prompt, memory, or both (default): both reports prompt, memory and their
                      combination (mean of the two maps, each on its calibrated 0..1 scale)
  --seed S            seed for the shots, synthesis and initialisation (default 0)
${PROVIDERS_USAGE}
  --steps N           prompt learning steps (default ${DEFAULT_STEPS})
  --no-mpts           task loss only (ablation)
  --lambda X          MPTS projection strength (default 1)
  --no-object-mask    OAGM places defects anywhere in the frame (ablation)
  --progress MODE     bar (default on a terminal) or plain

Exit codes: 0 success, 1 failure, 2 usage error.
`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('eval', usage, async () => {
    const values = parseOptions(argv, {
      bundle: { type: 'string' },
      dataset: { type: 'string' },
      out: { type: 'string' },
      category: { type: 'string', multiple: true },
      shots: { type: 'string' },
      prompts: { type: 'string' },
      scorer: { type: 'string' },
      seed: { type: 'string' },
      providers: { type: 'string' },
      steps: { type: 'string' },
      'no-mpts': { type: 'boolean' },
      lambda: { type: 'string' },
      'no-object-mask': { type: 'boolean' },
      progress: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const mode = oneOf('progress', values.progress, ['bar', 'plain'] as const) ?? defaultProgressMode();
    const progress = createPhaseProgress(mode);
    const options = {
      bundleDir: required('bundle', values.bundle),
      datasetDir: required('dataset', values.dataset),
      outDir: required('out', values.out),
      categories: (values.category ?? [])
        .flatMap((c) => c.split(','))
        .map((c) => c.trim())
        .filter(Boolean),
      shots: wholeNumber('shots', values.shots, 1) ?? DEFAULT_SHOTS,
      seed: wholeNumber('seed', values.seed) ?? 0,
      providers: providersOption(values.providers),
      steps: wholeNumber('steps', values.steps) ?? DEFAULT_STEPS,
      guidance: values['no-mpts'] ? ('none' as const) : ('mpts' as const),
      lambda: realNumber('lambda', values.lambda, (x) => x >= 0, 'a number >= 0') ?? 1,
      useObjectMask: !values['no-object-mask'],
      promptsFile: values.prompts ?? null,
      scorer: oneOf('scorer', values.scorer, SCORER_CHOICES) ?? 'both',
      onProgress: (category: string, phase: string, done: number, total: number) => progress.update(`${category}: ${phase}`, done, total),
    };
    const result = await runEvalJob(options).catch((e: unknown) => {
      progress.close(false);
      throw e;
    });
    progress.close(result.ok);
    if (!result.ok) throw new UserError(result.error);

    const { categories, mean, meanByScorer, files, totalMs } = result.value;
    const header = ['category'.padEnd(16), ...METRIC_KEYS.map((k) => k.padStart(12))].join('');
    const line = (name: string, m: Record<string, number>) => [name.padEnd(16), ...METRIC_KEYS.map((k) => m[k].toFixed(4).padStart(12))].join('');
    process.stdout.write(`${[header, ...categories.map((c) => line(c.name, c.metrics)), line('mean', mean)].join('\n')}\n`);
    const scorers = Object.entries(meanByScorer);
    if (scorers.length > 1) process.stdout.write(`${['mean per scorer', ...scorers.map(([name, m]) => line(`  ${name}`, m))].join('\n')}\n`);
    process.stdout.write(`${(totalMs / 1000).toFixed(1)} s\n${files.metrics}\n${files.scores}\n${files.report}\n`);
    return 0;
  });
}

// `linewatch tune`: learn a prompt set from a folder of normal images (tuning/tune-job.ts).
import { tuneProgressText } from '../agent/contract/tune-progress.ts';
import { SCORER_NAMES } from '../tuning/scorer-names.ts';
import { MIN_NORMALS, runTuneJob } from '../tuning/tune-job.ts';
import { UserError } from '../util/result.ts';
import { oneOf, parseOptions, realNumber, required, runCommand, wholeNumber } from './args.ts';
import { exitWhenParentGone } from './parent-pipe.ts';
import { createPhaseProgress, defaultProgressMode, PROGRESS_MODES } from './phase-progress.ts';
import { PROVIDERS_USAGE, providersOption } from './providers-option.ts';
import { scorersOption } from './scorers-option.ts';

const usage = `usage: linewatch tune --bundle DIR --normals DIR --out DIR [--steps N] [--seed S] [--providers LIST]
                      [--scorers LIST] [--no-mpts] [--lambda X] [--progress bar|plain|json]
                      [--no-activate] [--parent-pipe FD]

Learns normal/anomalous prompts from normal images alone (OAGM synthetic anomalies, MPTS
meta-guided prompt learning) and a memory bank of the normals' patches, calibrates each on
held-out normals and anomalies, and commits the set to the prompt store --out (<id>.json, its
bank, current) if the gate accepts it. The gate judges the scorers of --scorers combined as the
agent combines them, against the current set measured the same way on the same images.

  --bundle DIR      model bundle (linewatch model build)
  --normals DIR     normal images (png, jpg, jpeg, bmp, tif, webp; not recursive), at least ${MIN_NORMALS}
  --out DIR         prompt store directory (created if missing)
  --steps N         prompt learning steps (default 300)
  --seed S          seed for the split, synthesis and initialisation (default 0)
${PROVIDERS_USAGE}
  --scorers LIST    the scorers the gate judges, combined in this order, comma-separated
                    (${SCORER_NAMES.join(', ')}): the agent's detector.scorers; default ${SCORER_NAMES.join(',')}
  --no-mpts         task loss only, no meta-guided projection (ablation)
  --lambda X        MPTS projection strength (default 1)
  --progress MODE   bar (default on a terminal), plain (default otherwise), or json: JSON lines
                    on stdout, {"type":"progress",...} then {"type":"result",...}
  --no-activate     write the set but do not make it current, even if accepted (the agent's
                    re-tune activates the set itself: it is the only writer of current)
  --parent-pipe FD  exit at once, writing nothing, when file descriptor FD reaches end-of-file
                    (the agent passes a pipe only it holds: its tuner dies with it)

Exit codes: 0 a set was produced (accepted or rejected by the gate), 1 failure, 2 usage error.
`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('tune', usage, async () => {
    const values = parseOptions(argv, {
      bundle: { type: 'string' },
      normals: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      providers: { type: 'string' },
      scorers: { type: 'string' },
      'no-mpts': { type: 'boolean' },
      lambda: { type: 'string' },
      progress: { type: 'string' },
      'no-activate': { type: 'boolean' },
      'parent-pipe': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const bundleDir = required('bundle', values.bundle);
    const normalsDir = required('normals', values.normals);
    const outDir = required('out', values.out);
    const steps = wholeNumber('steps', values.steps);
    const seed = wholeNumber('seed', values.seed);
    const lambda = realNumber('lambda', values.lambda, (x) => x >= 0, 'a number >= 0');
    const mode = oneOf('progress', values.progress, PROGRESS_MODES) ?? defaultProgressMode();
    const json = mode === 'json';
    const parentPipe = wholeNumber('parent-pipe', values['parent-pipe'], 3);
    if (parentPipe !== undefined) exitWhenParentGone(parentPipe, 'tune');

    const progress = createPhaseProgress(mode, { synthesis: 'synthesis', features: 'features', steps: 'prompt steps', calibration: 'calibration' });
    const result = await runTuneJob({
      bundleDir,
      normals: normalsDir,
      outDir,
      steps,
      seed,
      providers: providersOption(values.providers),
      scorers: scorersOption(values.scorers),
      lambda,
      guidance: values['no-mpts'] ? 'none' : 'mpts',
      activate: !values['no-activate'],
      onProgress: progress.update,
      onWarning: (message) => process.stderr.write(`linewatch tune: warning: ${message}\n`),
    }).catch((e: unknown) => {
      progress.close(false);
      throw e;
    });
    progress.close(result.ok);
    if (!result.ok) throw new UserError(result.error);

    const { set, path, status, reasons, current } = result.value;
    if (json) {
      process.stdout.write(
        tuneProgressText({ type: 'result', id: set.id, path, status, metrics: set.metrics, ...(reasons.length ? { reason: reasons.join('; ') } : {}) }),
      );
      return 0;
    }
    process.stdout.write(`${path}\n`);
    const outcome =
      status === 'rejected' ? ` (${reasons.join('; ')}; the current set stays)` : current ? ' (now current)' : ' (not made current: --no-activate)';
    process.stdout.write(`status: ${status}${outcome}\n`);
    for (const [key, value] of Object.entries(set.metrics)) process.stdout.write(`  ${key.padEnd(24)} ${formatMetric(value)}\n`);
    return 0;
  });
}

function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

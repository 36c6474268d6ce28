// `linewatch model pull REPO_ID [--revision R] [--out DIR] [--layout auto|openclip|hf]`
import { checkRepoId, defaultOutDir, hubSettingsFromEnv, LAYOUT_FILES, pullRepo } from '../models/hub-pull.ts';
import { createLogger } from '../util/log.ts';
import { UserError } from '../util/result.ts';
import { oneOf, parseOptionsAnd, runCommand, UsageError } from './args.ts';

export const usage = `usage: linewatch model pull REPO_ID [--revision R] [--out DIR] [--layout auto|openclip|hf]

Downloads a CLIP repository from the Hugging Face hub into a folder for
'linewatch model build --weights DIR'. Only one weights layout is fetched
(OpenCLIP: ${LAYOUT_FILES.openclip.join(' + ')};
 Hugging Face: ${LAYOUT_FILES.hf.join(' + ')}), plus small tokenizer and
license files when present; other formats (pytorch_model.bin, flax, tf, onnx) are skipped.

  --revision R   branch, tag or commit (default: main)
  --out DIR      target folder (default: ./models-cache/OWNER__NAME, with @R appended
                 when --revision is given and not main)
  --layout L     auto (default: OpenCLIP when the repository has both), openclip or hf

Interrupted downloads resume: partial files are kept as FILE.part and continued with an
HTTP Range request on the next run. Every file is checked against the hub's sha256 (LFS)
or git blob id before it gets its final name. Files already present and intact are skipped.

Environment: HF_ENDPOINT (hub or mirror URL, default https://huggingface.co),
HF_TOKEN (access token for private or gated repositories).
On success the folder is printed on stdout.
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  return runCommand('model pull', usage, async () => {
    const { values, positionals } = parseOptionsAnd(argv, { revision: { type: 'string' }, out: { type: 'string' }, layout: { type: 'string' } }, 1, 'REPO_ID');
    const repo = checkRepoId(positionals[0]);
    if (!repo.ok) throw new UserError(repo.error, 2);
    const layout = oneOf('layout', values.layout, ['auto', 'openclip', 'hf'] as const) ?? 'auto';
    if (values.revision !== undefined && values.revision.trim() === '') throw new UsageError('--revision must not be empty');

    const logger = createLogger('model-pull');
    const outDir = values.out ?? defaultOutDir(repo.value, values.revision);
    const result = await pullRepo({ ...hubSettingsFromEnv(), repo: repo.value, revision: values.revision, outDir, layout, logger });
    if (!result.ok) throw new UserError(result.error);
    const fetched = result.value.files.filter((f) => f.status !== 'present').length;
    logger.info(
      `${fetched} file(s) downloaded, ${result.value.files.length - fetched} already present; next: linewatch model build --weights ${outDir} --out BUNDLE_DIR`,
    );
    process.stdout.write(`${outDir}\n`);
    return 0;
  });
}

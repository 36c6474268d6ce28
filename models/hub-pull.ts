// Downloads the files of a CLIP repository from the Hugging Face hub (or a mirror) into a folder
// that `linewatch model build --weights` reads: one weights layout, resumable, checksummed.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { downloadFile, HubApiError, type ListFileEntry, listFiles } from '@huggingface/hub';
import { createLogger, type Logger } from '../util/log.ts';
import { createProgress } from '../util/progress.ts';
import { err, ok, type Result, UserError } from '../util/result.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export type WeightsLayout = 'openclip' | 'hf';
export const LAYOUT_FILES: Record<WeightsLayout, readonly string[]> = {
  openclip: ['open_clip_config.json', 'open_clip_model.safetensors'],
  hf: ['config.json', 'model.safetensors'],
};
// Small companions worth keeping next to the weights when the repository has them.
const EXTRA_FILES = new Set([
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'preprocessor_config.json',
  'README.md',
  'LICENSE',
]);

export interface HubSettings {
  endpoint: string;
  token?: string;
}

export interface PullOptions extends HubSettings {
  repo: string;
  revision?: string;
  outDir: string;
  /** Which weights layout to fetch; 'auto' prefers OpenCLIP when the repository has both. */
  layout?: WeightsLayout | 'auto';
  /** How often a broken connection is resumed within one run before giving up (default 3). */
  retries?: number;
  retryDelayMs?: number;
  logger?: Logger;
}

export interface PulledFile {
  path: string;
  size: number;
  /** How the file got there in this run. */
  status: 'downloaded' | 'resumed' | 'present';
}

export interface PullSummary {
  outDir: string;
  layout: WeightsLayout;
  files: PulledFile[];
}

/** `HF_ENDPOINT` (a mirror) and `HF_TOKEN` (private or gated repositories), as the hub tools read them. */
export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const token = env.HF_TOKEN?.trim() || undefined;
  return { endpoint, token };
}

/** `./models-cache/<owner>__<name>`, with `@<revision>` when a revision other than main is asked for. */
export function defaultOutDir(repo: string, revision?: string): string {
  const name = repo.replaceAll('/', '__');
  const suffix = revision && revision !== 'main' ? `@${revision.replace(/[^\w.-]/g, '_')}` : '';
  return path.join('models-cache', name + suffix);
}

export function checkRepoId(repo: string): Result<string> {
  if (/^(datasets|spaces)\//.test(repo)) return err(`'${repo}' is not a model repository; model pull takes a model id like 'openai/clip-vit-base-patch16'`);
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo)) return err(`'${repo}' is not a repository id (expected OWNER/NAME, e.g. 'openai/clip-vit-base-patch16')`);
  return ok(repo);
}

export async function pullRepo(options: PullOptions): Promise<Result<PullSummary>> {
  try {
    return ok(await pull(options));
  } catch (e) {
    if (e instanceof UserError) return err(e.message);
    throw e;
  }
}

async function pull(options: PullOptions): Promise<PullSummary> {
  const repo = checkRepoId(options.repo);
  if (!repo.ok) throw new UserError(repo.error);
  if (options.token !== undefined && !options.token.startsWith('hf_')) {
    throw new UserError('HF_TOKEN is not a Hugging Face access token (those start with hf_)');
  }
  const revision = options.revision ?? 'main';
  const logger = options.logger ?? createLogger('model-pull');
  const where = `${options.repo}@${revision} at ${options.endpoint}`;

  const entries = await listTopLevel(options, revision, where);
  const layout = chooseLayout(entries, options.layout ?? 'auto', where);
  const wanted = entries.filter((e) => LAYOUT_FILES[layout].includes(e.path) || EXTRA_FILES.has(e.path));
  logger.info(`pulling ${where}`, { layout, files: wanted.map((e) => e.path) });

  await fs.mkdir(options.outDir, { recursive: true });
  const files: PulledFile[] = [];
  for (const entry of wanted) files.push(await pullFile(options, revision, entry, logger));
  return { outDir: options.outDir, layout, files };
}

async function listTopLevel(options: PullOptions, revision: string, where: string): Promise<ListFileEntry[]> {
  const entries: ListFileEntry[] = [];
  try {
    for await (const entry of listFiles({ repo: options.repo, revision, hubUrl: options.endpoint, accessToken: options.token })) {
      if (entry.type === 'file') entries.push(entry);
    }
  } catch (e) {
    throw new UserError(describeHubError(e, where));
  }
  return entries;
}

function chooseLayout(entries: ListFileEntry[], requested: WeightsLayout | 'auto', where: string): WeightsLayout {
  const names = new Set(entries.map((e) => e.path));
  const complete = (layout: WeightsLayout) => LAYOUT_FILES[layout].every((f) => names.has(f));
  const candidates: WeightsLayout[] = requested === 'auto' ? ['openclip', 'hf'] : [requested];
  const found = candidates.find(complete);
  if (found) return found;
  const weights = [...names].filter((n) => /\.(safetensors|bin|msgpack|h5|onnx|pt|pth|ckpt)$/.test(n));
  const needed = candidates.map((l) => LAYOUT_FILES[l].join(' + ')).join(' or ');
  throw new UserError(
    `${where} has no CLIP weights linewatch can read: it needs ${needed} ` + `(weight files there: ${weights.length ? weights.join(', ') : 'none'})`,
  );
}

type Checksum = { kind: 'sha256' | 'git-blob-sha1'; hex: string };

/** LFS files are checked against their sha256, small git files against their git blob id. */
function expectedChecksum(entry: ListFileEntry): Checksum | undefined {
  if (entry.lfs) return { kind: 'sha256', hex: entry.lfs.oid };
  return entry.oid ? { kind: 'git-blob-sha1', hex: entry.oid } : undefined;
}

async function fileChecksum(file: string, kind: Checksum['kind'], size: number): Promise<string> {
  const hash = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-blob-sha1') hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function pullFile(options: PullOptions, revision: string, entry: ListFileEntry, logger: Logger): Promise<PulledFile> {
  const size = entry.lfs?.size ?? entry.size;
  const checksum = expectedChecksum(entry);
  const finalPath = path.join(options.outDir, entry.path);
  const partPath = `${finalPath}.part`;
  const matches = async (file: string) => !checksum || (await fileChecksum(file, checksum.kind, size)) === checksum.hex;

  try {
    if ((await sizeOf(finalPath)) === size && (await matches(finalPath))) {
      logger.info(`${entry.path}: already present and verified`);
      return { path: entry.path, size, status: 'present' };
    }
    const resumedFrom = await downloadToPart(options, revision, entry.path, size, partPath, logger);
    const got = checksum ? await fileChecksum(partPath, checksum.kind, size) : undefined;
    if (checksum && got !== checksum.hex) {
      await fs.rm(partPath, { force: true });
      throw new UserError(
        `${entry.path}: downloaded content does not match the hub's ${checksum.kind} ` +
          `(expected ${checksum.hex}, got ${got}); the download was deleted, run the command again`,
      );
    }
    await fs.rename(partPath, finalPath);
    await syncDirectory(path.dirname(finalPath));
    return { path: entry.path, size, status: resumedFrom > 0 ? 'resumed' : 'downloaded' };
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new UserError(`${entry.path}: cannot write under ${options.outDir}: ${(e as Error).message}`);
    throw e;
  }
}

/**
 * Appends to `<file>.part` from where an earlier attempt stopped (an HTTP Range request through
 * the hub library), retrying broken connections. Returns the size the part had at the start.
 */
async function downloadToPart(options: PullOptions, revision: string, file: string, size: number, partPath: string, logger: Logger): Promise<number> {
  const retries = options.retries ?? 3;
  let initial = (await sizeOf(partPath)) ?? 0;
  if (initial > size) {
    await fs.rm(partPath);
    initial = 0;
  }
  if (initial > 0) logger.info(`${file}: resuming at ${initial} of ${size} bytes`);
  const progress = createProgress(file, size, 'bytes');
  progress.update(initial);
  for (let attempt = 0; ; attempt++) {
    const start = (await sizeOf(partPath)) ?? 0;
    if (start === size) break;
    try {
      await appendRange(options, revision, file, start, partPath, (written) => progress.update(written));
      if (((await sizeOf(partPath)) ?? 0) < size) throw new Error('the server closed the transfer early');
    } catch (e) {
      const reached = (await sizeOf(partPath)) ?? 0;
      const reason = e instanceof UserError ? e.message : describeHubError(e, `${options.repo}@${revision} at ${options.endpoint}`);
      // Refusals (4xx) and our own findings do not get better by asking again.
      const final = e instanceof UserError || (e instanceof HubApiError && e.statusCode < 500);
      if (final || attempt >= retries) {
        progress.fail();
        throw new UserError(`${file}: download stopped at ${reached} of ${size} bytes (${reason}); run the same command again to resume`);
      }
      logger.warn(`${file}: connection lost at ${reached} of ${size} bytes, resuming (retry ${attempt + 1} of ${retries})`, { reason });
      await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 1000) * (attempt + 1)));
      continue;
    }
    const reached = (await sizeOf(partPath)) ?? 0;
    if (reached > size) {
      progress.fail();
      await fs.rm(partPath, { force: true });
      throw new UserError(`${file}: the server sent ${reached} bytes, the hub lists ${size}; the download was deleted, run the command again`);
    }
  }
  progress.done();
  return initial;
}

async function appendRange(
  options: PullOptions,
  revision: string,
  file: string,
  start: number,
  partPath: string,
  onWritten: (total: number) => void,
): Promise<void> {
  // xet: false keeps one transfer path, the resolve URL, which serves xet-backed files too.
  const blob = await downloadFile({ repo: options.repo, path: file, revision, hubUrl: options.endpoint, accessToken: options.token, xet: false });
  if (!blob) throw new UserError(`the hub listed ${file} but does not serve it`);
  const body = start > 0 ? blob.slice(start) : blob;
  const part = await fs.open(partPath, 'a');
  let written = start;
  try {
    for await (const chunk of body.stream()) {
      await part.write(chunk);
      written += chunk.byteLength;
      onWritten(written);
    }
    await part.sync();
  } finally {
    await part.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** One line a user can act on, from whatever the hub library or fetch threw. */
function describeHubError(e: unknown, where: string): string {
  if (e instanceof HubApiError) {
    const detail = e.message.split('. URL:')[0];
    if (e.statusCode === 401 || e.statusCode === 404) {
      return `repository ${where} not found (${detail}); check the id and revision, or set HF_TOKEN for a private or gated repository`;
    }
    if (e.statusCode === 403) return `access to ${where} denied (${detail}); a gated repository needs its terms accepted on the hub and HF_TOKEN set`;
    return `the hub at ${where} answered HTTP ${e.statusCode}: ${detail}`;
  }
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    const because = cause?.code ?? cause?.message ?? e.message;
    if (e.message === 'fetch failed') return `cannot reach ${where}: ${because} (HF_ENDPOINT selects a mirror)`;
    return because === e.message ? e.message : `${e.message}: ${because}`;
  }
  return String(e);
}

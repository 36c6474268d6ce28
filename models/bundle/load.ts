// Opening a bundle: the manifest is parsed and every file is checked against its sha256, so a
// truncated copy or a hand-edited graph is caught at startup with the name of the bad file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../util/result.ts';
import { readSafetensors, tensorF32 } from '../weights/safetensors.ts';
import { sha256File } from './checksum.ts';
import { MANIFEST_FILE, type Manifest, parseManifest } from './manifest.ts';

export interface Bundle {
  dir: string;
  manifest: Manifest;
  /** Absolute paths of the bundle's files. */
  /** `memory` is null for bundles built before the memory scorer existed. */
  paths: { vision: string; text: string; textVjp: string; tokenEmbedding: string; vocab: string; memory: string | null };
}

export interface LoadOptions {
  /** Verify every file's sha256 (default true); reading a large bundle takes a few seconds. */
  verify?: boolean;
}

export async function loadBundle(dir: string, options: LoadOptions = {}): Promise<Result<Bundle>> {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(manifestPath, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return err(`${dir} is not a model bundle: ${MANIFEST_FILE} is missing (build one with 'linewatch model build')`);
    return err(`cannot read ${manifestPath}: ${(e as Error).message}`);
  }
  const manifest = parseManifest(json);
  if (!manifest.ok) return err(`${manifestPath}: ${manifest.error}`);
  const m = manifest.value;

  if (options.verify !== false) {
    for (const [file, expected] of Object.entries(m.checksums)) {
      const full = path.join(dir, file);
      let actual: string;
      try {
        actual = await sha256File(full);
      } catch (e) {
        return err(`bundle ${dir}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (actual !== expected)
        return err(
          `bundle ${dir}: ${file} is corrupt or was modified (sha256 ${actual.slice(0, 12)}…, manifest says ${expected.slice(0, 12)}…); rebuild the bundle`,
        );
    }
  }
  const at = (f: string) => path.resolve(dir, f);
  return ok({
    dir: path.resolve(dir),
    manifest: m,
    paths: {
      vision: at(m.files.vision),
      text: at(m.files.text),
      textVjp: at(m.files.textVjp),
      tokenEmbedding: at(m.files.tokenEmbedding),
      vocab: at(m.files.vocab),
      memory: m.files.memory === undefined ? null : at(m.files.memory),
    },
  });
}

export interface TokenEmbedding {
  vocabSize: number;
  width: number;
  /** [vocabSize, width], row-major. */
  data: Float32Array;
  sot: number;
  eot: number;
}

export async function readTokenEmbedding(bundle: Bundle): Promise<Result<TokenEmbedding>> {
  const file = await readSafetensors(bundle.paths.tokenEmbedding);
  if (!file.ok) return file;
  const info = file.value.tensors.get('token_embedding');
  const { vocabSize, width, sot, eot } = bundle.manifest.text;
  if (info?.shape.length !== 2 || info.shape[0] !== vocabSize || info.shape[1] !== width) {
    return err(`${bundle.paths.tokenEmbedding}: expected a token_embedding tensor [${vocabSize}, ${width}]`);
  }
  return ok({ vocabSize, width, data: tensorF32(file.value, 'token_embedding'), sot, eot });
}

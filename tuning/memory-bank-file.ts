// The memory bank's sidecar file beside its prompt set: `<id>.memory.safetensors`, one float32
// little-endian tensor per selected layer (`layer_<block>` [M_k, E]; shapes in the safetensors
// header), metadata naming the set and the bundle. The set's `memory` entry carries the file's
// sha256, so a sidecar that was truncated, replaced or belongs to another set is refused on load
// with a message naming it, and so is one whose rows are not unit vectors: memory.onnx does not
// normalise the bank (models/graphs/memory.ts), so such a bank would score wrongly, not fail.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { encodeSafetensors, parseSafetensors, tensorF32 } from '../models/weights/safetensors.ts';
import { err, ok, type Result } from '../util/result.ts';
import { bankSizes, type MemoryBank, nonUnitRow } from './memory-bank.ts';
import type { PromptSet } from './prompt-set.ts';

export const MEMORY_FILE_SUFFIX = '.memory.safetensors';
const FORMAT = 'linewatch-memory-bank';

export type MemoryEntry = NonNullable<PromptSet['memory']>;

export function memoryFileName(setId: string): string {
  return `${setId}${MEMORY_FILE_SUFFIX}`;
}

export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The sidecar's bytes for the bank of set `setId`, tuned for `bundleSha256`, layers = block numbers. */
export function encodeMemoryBank(bank: MemoryBank, setId: string, bundleSha256: string, layers: number[]): Buffer {
  if (layers.length !== bank.layers.length) throw new RangeError(`${layers.length} layer numbers for a bank of ${bank.layers.length} layers`);
  const sizes = bankSizes(bank);
  const tensors = Object.fromEntries(layers.map((l, k) => [`layer_${l}`, { dtype: 'F32' as const, shape: [sizes[k], bank.embedDim], data: bank.layers[k] }]));
  return encodeSafetensors(tensors, { format: FORMAT, prompt_set: setId, bundle_sha256: bundleSha256 });
}

/** Reads the sidecar of `set` from `file`, checked against the set's sha256, id, bundle and layers. */
export async function readMemoryBank(file: string, set: PromptSet): Promise<Result<MemoryBank>> {
  const entry = set.memory;
  if (!entry) return err(`prompt set ${set.id} has no memory bank`);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return err(
      code === 'ENOENT' ? `memory bank ${file} of prompt set ${set.id} is missing` : `memory bank ${file}: cannot be read (${code ?? (e as Error).message})`,
    );
  }
  const actual = sha256Of(bytes);
  if (actual !== entry.sha256)
    return err(`memory bank ${file} is corrupt or was modified (sha256 ${actual.slice(0, 12)}…, prompt set ${set.id} says ${entry.sha256.slice(0, 12)}…)`);
  const parsed = parseSafetensors(file, bytes);
  if (!parsed.ok) return err(`memory bank ${parsed.error}`);
  const { metadata, tensors } = parsed.value;
  if (metadata.format !== FORMAT || metadata.prompt_set !== set.id)
    return err(`memory bank ${file} belongs to prompt set '${metadata.prompt_set}', not to ${set.id}`);
  if (metadata.bundle_sha256 !== set.bundle.sha256)
    return err(`memory bank ${file} was built for another bundle (manifest sha256 ${String(metadata.bundle_sha256).slice(0, 12)}…) than prompt set ${set.id}`);
  const layers: Float32Array[] = [];
  let embedDim = 0;
  for (const [k, l] of entry.layers.entries()) {
    const info = tensors.get(`layer_${l}`);
    if (info?.dtype !== 'F32' || info.shape.length !== 2 || info.shape[0] !== entry.patches[k] || (embedDim && info.shape[1] !== embedDim)) {
      return err(`memory bank ${file}: tensor layer_${l} is missing or not float32 [${entry.patches[k]}, E]`);
    }
    embedDim = info.shape[1];
    const rows = tensorF32(parsed.value, `layer_${l}`);
    const bad = nonUnitRow(rows, embedDim);
    if (bad)
      return err(`memory bank ${file}: row ${bad.row} of tensor layer_${l} has length ${bad.norm.toPrecision(4)}, not 1; a bank must hold L2-normalised rows`);
    layers.push(rows);
  }
  return ok({ embedDim, layers });
}

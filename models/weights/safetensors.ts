// Safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian tensor bytes.
import { promises as fs } from 'node:fs';
import { err, ok, type Result } from '../../util/result.ts';

export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32';
export interface TensorInfo {
  dtype: DType;
  shape: number[];
  data_offsets: [number, number];
}
export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** The whole file: tensors are views into it. */
  bytes: Buffer;
  dataStart: number;
}

const bytesPer: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

export async function readSafetensors(file: string): Promise<Result<SafetensorsFile>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    return err(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseSafetensors(file, bytes);
}

export function parseSafetensors(file: string, bytes: Buffer): Result<SafetensorsFile> {
  if (bytes.length < 8) return err(`${file} is not a safetensors file (only ${bytes.length} bytes)`);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  if (headerLen <= 0 || 8 + headerLen > bytes.length) return err(`${file} is not a safetensors file (bad header length ${headerLen})`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
  } catch {
    return err(`${file} is not a safetensors file (header is not JSON)`);
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const t = raw as TensorInfo;
    if (!t || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) return err(`${file}: tensor '${name}' has a malformed header entry`);
    if (!(t.dtype in bytesPer)) return err(`${file}: tensor '${name}' has unsupported dtype ${t.dtype}`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const [start, end] = t.data_offsets;
    if (end - start !== count * bytesPer[t.dtype] || dataStart + end > bytes.length) {
      return err(`${file}: tensor '${name}' (${t.dtype} ${JSON.stringify(t.shape)}) does not fit the file (truncated or corrupt)`);
    }
    tensors.set(name, t);
  }
  return ok({ path: file, metadata, tensors, bytes, dataStart });
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A tensor converted to float32 (weights may be stored as F16/BF16). */
export function tensorF32(file: SafetensorsFile, name: string): Float32Array {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`missing tensor ${name}`);
  const start = file.dataStart + t.data_offsets[0];
  const n = t.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(file.bytes.buffer, file.bytes.byteOffset + start, t.data_offsets[1] - t.data_offsets[0]);
  if (t.dtype === 'F32') return new Float32Array(file.bytes.buffer.slice(view.byteOffset, view.byteOffset + n * 4));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'F64':
        out[i] = view.getFloat64(i * 8, true);
        break;
      case 'F16':
        out[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
      case 'BF16':
        out[i] = new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0];
        break;
      case 'I64':
        out[i] = Number(view.getBigInt64(i * 8, true));
        break;
      case 'I32':
        out[i] = view.getInt32(i * 4, true);
        break;
    }
  }
  return out;
}

export function tensorI64(file: SafetensorsFile, name: string): BigInt64Array {
  const t = file.tensors.get(name);
  if (t?.dtype !== 'I64') throw new Error(`missing int64 tensor ${name}`);
  const start = file.dataStart + t.data_offsets[0];
  return new BigInt64Array(file.bytes.buffer.slice(file.bytes.byteOffset + start, file.bytes.byteOffset + file.dataStart + t.data_offsets[1]));
}

export interface TensorToWrite {
  dtype: 'F32' | 'I64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** Serialises tensors to the safetensors format (used for generated weights in tests and benchmarks). */
export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const parts: Buffer[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + b.length] };
    parts.push(b);
    offset += b.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align data to 8 bytes
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}

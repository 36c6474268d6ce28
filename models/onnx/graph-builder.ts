// A small builder for ONNX graphs written from TypeScript. Nodes get unique output names;
// large weights go to an external data file (ONNX's external-data convention), which keeps the
// protobuf small (the 2 GB protobuf limit) and lets several graphs share one weights file.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const OPSET = 17;
const IR_VERSION = 8; // pairs with opset 17
const EXTERNAL_MIN_BYTES = 1024;

export type Dim = number | string;
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | { tensor: ConstTensor };
export type ElemType = 'float32' | 'int64' | 'int8';

export type TensorData = Float32Array | BigInt64Array | Int8Array;

export interface ConstTensor {
  type: ElemType;
  dims: number[];
  data: TensorData;
}

const elemCode: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int8: onnx.TensorProto.DataType.INT8,
};

/** Collects weight bytes for one `<name>.weights` file; the same array added twice is stored once. */
export class ExternalWeights {
  private readonly chunks: Uint8Array[] = [];
  private readonly placed = new Map<ArrayBufferView, { offset: number; length: number }>();
  private size = 0;
  constructor(readonly fileName: string) {}

  place(data: TensorData): { offset: number; length: number } {
    const known = this.placed.get(data);
    if (known) return known;
    const pad = (64 - (this.size % 64)) % 64; // keep tensors aligned for mmap-friendly loading
    if (pad) {
      this.chunks.push(new Uint8Array(pad));
      this.size += pad;
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const where = { offset: this.size, length: bytes.length };
    this.chunks.push(bytes);
    this.size += bytes.length;
    this.placed.set(data, where);
    return where;
  }

  async write(dir: string): Promise<string> {
    const file = path.join(dir, this.fileName);
    const fh = await fs.open(file, 'w');
    try {
      for (const c of this.chunks) await fh.write(c);
    } finally {
      await fh.close();
    }
    return file;
  }
}

function tensorProto(name: string, t: ConstTensor, external: ExternalWeights | null) {
  const proto = onnx.TensorProto.create({ name, dims: t.dims, dataType: elemCode[t.type] });
  if (external && t.data.byteLength >= EXTERNAL_MIN_BYTES) {
    const { offset, length } = external.place(t.data);
    proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    proto.externalData = [
      { key: 'location', value: external.fileName },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ];
  } else {
    proto.rawData = new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  }
  return proto;
}

function attribute(name: string, v: AttrValue) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: A.INT, i: v };
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if ('float' in v) return { name, type: A.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: A.FLOATS, floats: v.floats };
  return { name, type: A.TENSOR, t: tensorProto('', v.tensor, null) };
}

function valueInfo(name: string, type: ElemType, dims: Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemCode[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly inits: object[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(
    readonly name: string,
    private readonly external: ExternalWeights | null = null,
  ) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** An input with a default value: ONNX lets an initializer of the same name stand in when the caller omits it. */
  inputWithDefault(name: string, value: ConstTensor): string {
    this.inputs.push(valueInfo(name, value.type, value.dims));
    this.inits.push(tensorProto(name, value, this.external));
    return name;
  }

  output(value: string, name: string, type: ElemType, dims: Dim[]): void {
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.fresh('out') });
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A weight initializer (float32, or int8 for quantized matrices); large ones go to the external file. */
  weight(hint: string, data: Float32Array | Int8Array, dims: number[]): string {
    const name = this.fresh(hint);
    const type = data instanceof Int8Array ? 'int8' : 'float32';
    this.inits.push(tensorProto(name, { type, dims, data }, this.external));
    return name;
  }

  /** Small constants are deduplicated by value so repeated shapes/axes do not bloat the graph. */
  constF(values: number[], dims: number[] = [values.length]): string {
    return this.constant({ type: 'float32', dims, data: Float32Array.from(values) });
  }

  constI(values: number[], dims: number[] = [values.length]): string {
    return this.constant({ type: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
  }

  constant(t: ConstTensor): string {
    const key = t.data.length <= 64 ? `${t.type}|${t.dims}|${Array.from(t.data as ArrayLike<unknown>).join(',')}` : null;
    const cached = key && this.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh('const');
    this.inits.push(tensorProto(name, t, this.external));
    if (key) this.constCache.set(key, name);
    return name;
  }

  /** Adds a node and returns its output names. */
  nodeN(op: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const outNames = Array.from({ length: outputs }, () => this.fresh(op.toLowerCase()));
    this.nodes.push({
      opType: op,
      domain,
      input: inputs,
      output: outNames,
      name: this.fresh(`n_${op}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outNames;
  }

  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.nodeN(op, inputs, 1, attrs)[0];
  }

  encode(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'linewatch',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

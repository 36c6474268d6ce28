// An ONNX file as the facts a support check needs: opset, graph inputs with their element types
// and dimensions, initializers (small integer ones with their values: axes, shapes, depths), and
// nodes with decoded attributes. Weights in external data files are never read: the protobuf
// alone says what a parser will see, so checking a ViT-L bundle reads kilobytes, not gigabytes.
import { promises as fs } from 'node:fs';
import onnxProto from 'onnx-proto';
import { err, ok, type Result } from '../../util/result.ts';

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;

/** ONNX element types in the support matrix's spelling; others keep ONNX's name. */
const TYPE_NAMES: Record<number, string> = {
  [DataType.FLOAT]: 'FP32',
  [DataType.FLOAT16]: 'FP16',
  [DataType.BFLOAT16]: 'BF16',
  [DataType.DOUBLE]: 'DOUBLE',
  [DataType.INT32]: 'INT32',
  [DataType.INT64]: 'INT64',
  [DataType.INT8]: 'INT8',
  [DataType.UINT8]: 'UINT8',
  [DataType.BOOL]: 'BOOL',
  [DataType.INT16]: 'INT16',
  [DataType.UINT16]: 'UINT16',
  [DataType.UINT32]: 'UINT32',
  [DataType.UINT64]: 'UINT64',
  [DataType.STRING]: 'STRING',
  17: 'FP8', // FLOAT8E4M3FN
  22: 'INT4',
};

export function elementTypeName(code: number): string {
  return TYPE_NAMES[code] ?? `type ${code}`;
}

/** A dimension: its size, or the symbolic name (`dim_param`) of a dynamic one ('?' when unnamed). */
export type Dim = number | string;

export interface GraphInput {
  name: string;
  type: string;
  dims: Dim[];
}

export interface Initializer {
  type: string;
  dims: number[];
  /** The values of an inline INT32/INT64 tensor (what axes, shapes and depths are). */
  ints: number[] | null;
}

export type Attribute = number | number[] | string | string[] | { tensor: Initializer } | null;

export interface GraphNode {
  /** The node's name, or `<op>#<index>` when it has none. */
  name: string;
  op: string;
  domain: string;
  /** '' marks an omitted optional input, as in ONNX. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

export interface OnnxGraph {
  file: string;
  /** The default-domain opset the model imports. */
  opset: number | null;
  /** Graph inputs a caller feeds (inputs with an initializer of the same name are defaults, left out). */
  inputs: GraphInput[];
  initializers: Map<string, Initializer>;
  nodes: GraphNode[];
}

type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

function intValues(t: TensorProto): number[] | null {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return null;
  if (t.dataType !== DataType.INT64 && t.dataType !== DataType.INT32) return null;
  if (t.rawData?.length) {
    const bytes = t.rawData;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = t.dataType === DataType.INT64 ? 8 : 4;
    return Array.from({ length: bytes.byteLength / width }, (_, i) => (width === 8 ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true)));
  }
  const listed = t.dataType === DataType.INT64 ? t.int64Data : t.int32Data;
  return (listed ?? []).map(Number);
}

function initializer(t: TensorProto): Initializer {
  return { type: elementTypeName(t.dataType ?? 0), dims: (t.dims ?? []).map(Number), ints: intValues(t) };
}

function attributeValue(a: AttributeProto): Attribute {
  const A = onnx.AttributeProto.AttributeType;
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  switch (a.type) {
    case A.INT:
      return Number(a.i);
    case A.FLOAT:
      return a.f ?? 0;
    case A.INTS:
      return (a.ints ?? []).map(Number);
    case A.FLOATS:
      return [...(a.floats ?? [])];
    case A.STRING:
      return text(a.s ?? new Uint8Array());
    case A.STRINGS:
      return (a.strings ?? []).map(text);
    case A.TENSOR:
      return a.t ? { tensor: initializer(a.t) } : null;
    default:
      return null; // graphs and sparse tensors: nothing a check here reads
  }
}

export function decodeOnnx(bytes: Uint8Array, file: string): Result<OnnxGraph> {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    return err(`${file} is not an ONNX model: ${(e as Error).message}`);
  }
  const graph = model.graph;
  if (!graph) return err(`${file} is not an ONNX model: it has no graph`);
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', initializer(t)]));
  const inputs = (graph.input ?? [])
    .filter((i) => !initializers.has(i.name ?? ''))
    .map((i) => {
      const tensor = i.type?.tensorType;
      const dims = (tensor?.shape?.dim ?? []).map((d): Dim => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0) > 0 ? Number(d.dimValue) : '?'));
      return { name: i.name ?? '', type: elementTypeName(tensor?.elemType ?? 0), dims };
    });
  const nodes = (graph.node ?? []).map((n, index) => ({
    name: n.name || `${n.opType}#${index}`,
    op: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', attributeValue(a)])),
  }));
  return ok({ file, opset: opset ? Number(opset.version) : null, inputs, initializers, nodes });
}

export async function readOnnxGraph(file: string): Promise<Result<OnnxGraph>> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    return err(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeOnnx(bytes, file);
}

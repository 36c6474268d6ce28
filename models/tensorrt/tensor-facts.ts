// What the support matrix's restrictions ask about a node's tensors, derived from the graph alone:
// the element type of every tensor (propagated from inputs and initializers through the ops), and
// the value of small integer tensors that are known when the engine is built (constants, static
// dimensions read by Shape, and the slicing, reshaping and concatenation of those). TensorRT's
// "must be a build-time constant" means exactly that: computable without running the network.
import type { Dim, GraphNode, OnnxGraph } from './onnx-graph.ts';
import { elementTypeName } from './onnx-graph.ts';

/** One element of a shape-like value: a number, or the dynamic dimension it depends on. */
export type KnownElement = number | { dynamic: string };

export interface TensorFacts {
  /** Element type (matrix spelling) of every tensor whose type follows from the graph. */
  types: Map<string, string>;
  /** Values of integer tensors computable from constants and input dimensions. */
  values: Map<string, KnownElement[]>;
  /** Names of initializers and Constant outputs. */
  constants: Set<string>;
}

const BOOLEAN_OUTPUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OUTPUT = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero']);
/** Ops that pass their first input's values through unchanged (up to shape). */
const VALUE_PRESERVING = new Set(['Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Cast']);

function outputTypes(node: GraphNode, typeOf: (name: string) => string | undefined): (string | undefined)[] {
  const first = typeOf(node.inputs[0] ?? '');
  const a = node.attributes;
  switch (node.op) {
    case 'Cast':
      return [typeof a.to === 'number' ? elementTypeName(a.to) : undefined];
    case 'CastLike':
      return [typeOf(node.inputs[1])];
    case 'Constant':
      return [a.value && typeof a.value === 'object' && 'tensor' in a.value ? a.value.tensor.type : undefined];
    case 'DynamicQuantizeLinear':
      return ['UINT8', 'FP32', 'UINT8'];
    case 'MatMulInteger':
    case 'ConvInteger':
      return ['INT32'];
    case 'QuantizeLinear':
      return [typeOf(node.inputs[2] ?? '') ?? 'UINT8'];
    case 'DequantizeLinear':
      return [typeOf(node.inputs[1])];
    case 'OneHot':
      return [typeOf(node.inputs[2])];
    default:
      if (BOOLEAN_OUTPUT.has(node.op)) return node.outputs.map(() => 'BOOL');
      if (INT64_OUTPUT.has(node.op)) return node.outputs.map(() => 'INT64');
      return node.outputs.map(() => first);
  }
}

/** numpy-style slice of a 1-D value, with ONNX's clamping of out-of-range starts and ends. */
function slice1d<T>(data: T[], start: number, end: number, step: number): T[] {
  const n = data.length;
  const clamp = (i: number, lo: number, hi: number) => Math.min(Math.max(i < 0 ? i + n : i, lo), hi);
  const out: T[] = [];
  if (step > 0) for (let i = clamp(start, 0, n); i < clamp(end, 0, n); i += step) out.push(data[i]);
  else for (let i = clamp(start, -1, n - 1); i > clamp(end, -1, n - 1); i += step) out.push(data[i]);
  return out;
}

const numbers = (v: KnownElement[] | undefined): number[] | undefined => (v?.every((e) => typeof e === 'number') ? (v as number[]) : undefined);

function outputValue(node: GraphNode, graph: OnnxGraph, valueOf: (name: string) => KnownElement[] | undefined): KnownElement[] | undefined {
  const a = node.attributes;
  const input = (i: number) => (node.inputs[i] ? valueOf(node.inputs[i]) : undefined);
  if (VALUE_PRESERVING.has(node.op)) return input(0);
  switch (node.op) {
    case 'Constant':
      return a.value && typeof a.value === 'object' && 'tensor' in a.value ? (a.value.tensor.ints ?? undefined) : undefined;
    case 'Shape': {
      const source = graph.inputs.find((i) => i.name === node.inputs[0]);
      const init = graph.initializers.get(node.inputs[0]);
      const dims: Dim[] | undefined = source?.dims ?? init?.dims;
      if (!dims) return undefined; // the shape of an intermediate tensor: not inferred here
      const named = dims.map((d, axis): KnownElement => (typeof d === 'number' ? d : { dynamic: `${node.inputs[0]}[${axis}] '${d}'` }));
      return slice1d(named, typeof a.start === 'number' ? a.start : 0, typeof a.end === 'number' ? a.end : named.length, 1);
    }
    case 'Slice': {
      const data = input(0);
      const [starts, ends] = [numbers(input(1)), numbers(input(2))];
      const axes = node.inputs[3] ? numbers(input(3)) : [0];
      const steps = node.inputs[4] ? numbers(input(4)) : [1];
      if (!data || !starts || !ends || !axes || !steps || axes.some((x) => x !== 0 && x !== -1)) return undefined;
      return slice1d(data, starts[0], ends[0], steps[0]);
    }
    case 'Concat': {
      const parts = node.inputs.map((n) => valueOf(n));
      return parts.every((p) => p) ? (parts.flat() as KnownElement[]) : undefined;
    }
    case 'Gather': {
      const [data, indices] = [input(0), numbers(input(1))];
      if (!data || !indices || (typeof a.axis === 'number' && a.axis !== 0)) return undefined;
      return indices.map((i) => data[i < 0 ? i + data.length : i]);
    }
    default:
      return undefined;
  }
}

export function tensorFacts(graph: OnnxGraph): TensorFacts {
  const types = new Map<string, string>();
  const values = new Map<string, KnownElement[]>();
  const constants = new Set<string>(graph.initializers.keys());
  for (const i of graph.inputs) types.set(i.name, i.type);
  for (const [name, init] of graph.initializers) {
    types.set(name, init.type);
    if (init.ints) values.set(name, init.ints);
  }
  // ONNX nodes are stored in topological order, so one pass sees every producer first
  for (const node of graph.nodes) {
    outputTypes(node, (n) => types.get(n)).forEach((t, i) => {
      if (t && node.outputs[i]) types.set(node.outputs[i], t);
    });
    if (node.op === 'Constant') constants.add(node.outputs[0]);
    const value = outputValue(node, graph, (n) => values.get(n));
    if (value && node.outputs.length === 1) values.set(node.outputs[0], value);
  }
  return { types, values, constants };
}

// One ONNX graph held against the ONNX-TensorRT support matrix: every node's op must be one the
// parser supports, with its input of a listed element type and the listed restrictions met; the
// opset must be in the parser's range; and the graph's inputs must be static except the batch
// dimension (and dimensions the caller declares dynamic by design, which then need an
// optimization profile). A graph that passes still has to build on the device; one that fails
// would not parse, or parse only in pieces that onnxruntime then runs elsewhere.
import type { GraphNode, OnnxGraph } from './onnx-graph.ts';
import type { OperatorSupport, RestrictionCheck, SupportMatrix } from './support-matrix.ts';
import { type TensorFacts, tensorFacts } from './tensor-facts.ts';

/** A graph input dimension that may be dynamic by design (besides axis 0, the batch). */
export interface DeclaredDynamicDim {
  input: string;
  axis: number;
  /** What the dimension is, for the report ("prompt length"). */
  meaning: string;
}

export interface DynamicDim {
  input: string;
  axis: number;
  /** The dimension's symbolic name in the graph ('B', 'P', 'S'). */
  name: string;
  meaning: string;
}

export interface GraphProblem {
  /** The node, or null for a problem of the graph as a whole (opset, input shapes). */
  node: string | null;
  op: string | null;
  reason: string;
}

export interface GraphCheck {
  /** The graph's file name. */
  graph: string;
  nodes: number;
  /** Distinct op types, sorted. */
  ops: string[];
  problems: GraphProblem[];
  /** Dynamic input dimensions allowed here: each needs a range in TensorRT's optimization profile. */
  dynamicDims: DynamicDim[];
  pass: boolean;
}

function restrictionProblem(node: GraphNode, check: RestrictionCheck, facts: TensorFacts): string | null {
  switch (check.kind) {
    case 'initializerInput': {
      const name = node.inputs[check.input];
      if (!name || facts.constants.has(name)) return null;
      return `\`${check.name}\` must be an initializer; here it is the computed tensor '${name}'`;
    }
    case 'buildTimeConstantInput': {
      const name = node.inputs[check.input];
      if (!name) return null;
      const value = facts.values.get(name);
      const dynamic = value?.find((e) => typeof e !== 'number');
      if (value && !dynamic) return null;
      const why = dynamic ? `it depends on the dynamic dimension ${dynamic.dynamic}` : `'${name}' is computed when the network runs`;
      return `\`${check.name}\` must be a build-time constant; ${why}`;
    }
    case 'maxOutputs': {
      const used = node.outputs.filter((o) => o !== '').length;
      return used > check.count ? `only the first ${check.count} output(s) are supported; this node uses ${used}` : null;
    }
    case 'attribute': {
      const value = node.attributes[check.name] ?? check.default;
      return (check.allowed as unknown[]).includes(value)
        ? null
        : `\`${check.name}\` ${JSON.stringify(value)} is not supported (${check.allowed.map((v) => JSON.stringify(v)).join(', ')})`;
    }
  }
}

function typeProblems(node: GraphNode, support: OperatorSupport, facts: TensorFacts): string[] {
  const types = support.types as readonly string[];
  const problems: string[] = [];
  const input = node.inputs[0] ? facts.types.get(node.inputs[0]) : undefined;
  if (input && !types.includes(input)) problems.push(`input '${node.inputs[0]}' is ${input}; the parser takes ${types.join(', ')}`);
  // a Cast's target type is held to the same list as its source
  const output = node.op === 'Cast' || node.op === 'CastLike' ? facts.types.get(node.outputs[0]) : undefined;
  if (output && !types.includes(output)) problems.push(`casts to ${output}; the parser takes ${types.join(', ')}`);
  return problems;
}

function nodeProblems(node: GraphNode, matrix: SupportMatrix, facts: TensorFacts, version: string): string[] {
  if (node.domain && node.domain !== 'ai.onnx') return [`op of domain '${node.domain}': the parser takes only standard ONNX ops (or registered plugins)`];
  const support = Object.hasOwn(matrix.operators, node.op) ? matrix.operators[node.op] : undefined;
  if (!support) return [`not in the support matrix of TensorRT ${version}`];
  if (!support.supported) return [`not supported by the ONNX parser of TensorRT ${version}`];
  const restrictions = (support.checks ?? []).map((c) => restrictionProblem(node, c, facts)).filter((p): p is string => p !== null);
  return [...typeProblems(node, support, facts), ...restrictions];
}

function shapeProblems(graph: OnnxGraph, declared: DeclaredDynamicDim[]): { problems: GraphProblem[]; dynamicDims: DynamicDim[] } {
  const problems: GraphProblem[] = [];
  const dynamicDims: DynamicDim[] = [];
  for (const input of graph.inputs) {
    input.dims.forEach((d, axis) => {
      if (typeof d === 'number') return;
      const known = axis === 0 ? { meaning: 'batch' } : declared.find((x) => x.input === input.name && x.axis === axis);
      if (known) dynamicDims.push({ input: input.name, axis, name: d, meaning: known.meaning });
      else problems.push({ node: null, op: null, reason: `input '${input.name}' dimension ${axis} is dynamic ('${d}'); only the batch dimension may be` });
    });
  }
  return { problems, dynamicDims };
}

export function checkGraph(graph: OnnxGraph, matrix: SupportMatrix, version: string, declared: DeclaredDynamicDim[] = []): GraphCheck {
  const facts = tensorFacts(graph);
  const problems: GraphProblem[] = [];
  const { min, max } = matrix.opsets;
  if (graph.opset === null || graph.opset < min || graph.opset > max) {
    problems.push({ node: null, op: null, reason: `opset ${graph.opset ?? 'missing'}: the parser of TensorRT ${version} takes opsets ${min} to ${max}` });
  }
  const shapes = shapeProblems(graph, declared);
  problems.push(...shapes.problems);
  for (const node of graph.nodes) {
    for (const reason of nodeProblems(node, matrix, facts, version)) problems.push({ node: node.name, op: node.op, reason });
  }
  const file = graph.file.split(/[\\/]/).pop() ?? graph.file;
  const ops = [...new Set(graph.nodes.map((n) => n.op))].sort();
  return { graph: file, nodes: graph.nodes.length, ops, problems, dynamicDims: shapes.dynamicDims, pass: problems.length === 0 };
}

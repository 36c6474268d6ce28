// `linewatch model check --target tensorrt` on bundles built from the tiny CLIP fixture (float32
// passes, int8 fails naming its quantized ops), on hand-made graphs for each kind of problem the
// matrix states, and the matrix data file itself. No TensorRT library runs here: the check is
// the parser's published support matrix held against the graphs.

import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GraphBuilder } from '../../../models/onnx/graph-builder.ts';
import { checkGraph } from '../../../models/tensorrt/check-graph.ts';
import { decodeOnnx } from '../../../models/tensorrt/onnx-graph.ts';
import { matrixFor, parseSupportMatrix, type SupportMatrix } from '../../../models/tensorrt/support-matrix.ts';
import { linewatch } from '../../support/linewatch-cli.ts';
import { REPO_ROOT } from '../../support/paths.ts';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/clip-tiny');
const MATRIX_FILE = path.join(REPO_ROOT, 'models/tensorrt/onnx-tensorrt-10.x.json');
const GRAPHS = ['vision.onnx', 'memory.onnx', 'text.onnx', 'text_vjp.onnx'];

let work: string;
let float32: string;
let int8: string;

async function build(name: string, ...options: string[]): Promise<string> {
  const out = path.join(work, name);
  const r = await linewatch('model', 'build', '--weights', FIXTURE, '--out', out, '--laa-radius', '1', '--laa-from', '3', ...options);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-tensorrt-'));
  float32 = await build('fp32');
  int8 = await build('int8', '--precision', 'int8');
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

function matrix(): SupportMatrix {
  const m = matrixFor('10');
  assert.ok(m.ok, m.ok ? '' : m.error);
  return m.value.matrix;
}

// ---------------------------------------------------------------------------------------------
// the matrix data file

test('the 10.x matrix file parses, names its source, and states what the parser publishes', () => {
  const parsed = parseSupportMatrix(readFileSync(MATRIX_FILE, 'utf8'), 'onnx-tensorrt-10.x.json');
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  const m = parsed.value;
  assert.equal(m.source.commit, '96e781103cfc4adf4a6bb557e94bac8e693f6f4c');
  assert.deepEqual(m.tensorrtVersions, ['10.0', '10.1']);
  assert.deepEqual(m.opsets, { min: 9, max: 20 });
  assert.equal(Object.keys(m.operators).length, 196);
  assert.equal(m.operators.MatMulInteger.supported, false);
  assert.equal(m.operators.DynamicQuantizeLinear.supported, false);
  assert.deepEqual(m.operators.MatMul.types, ['FP32', 'FP16', 'BF16']);
  assert.deepEqual(m.operators.OneHot.checks, [{ kind: 'buildTimeConstantInput', input: 1, name: 'depth' }]);
});

test('a damaged matrix file is refused with every problem named', () => {
  const m = JSON.parse(readFileSync(MATRIX_FILE, 'utf8'));
  delete m.operators.MatMul.types;
  m.operators.Add.types.push('FP64');
  m.operators.MatMulInteger.checks = [{ kind: 'maxOutputs', count: 1 }];
  m.source.commit = 'main';
  const schema = parseSupportMatrix(JSON.stringify({ ...m, operators: { ...m.operators, Add: m.operators.Add } }), 'damaged.json');
  assert.ok(!schema.ok);
  assert.match(schema.error, /^damaged\.json: /);
  assert.match(schema.error, /source\.commit/);
  assert.match(schema.error, /operators\.Add\.types\[\d+\]/);
  m.operators.Add.types.pop();
  m.source.commit = '96e781103cfc4adf4a6bb557e94bac8e693f6f4c';
  const consistency = parseSupportMatrix(JSON.stringify(m), 'damaged.json');
  assert.ok(!consistency.ok);
  assert.equal(consistency.error, 'damaged.json: MatMul is supported but lists no types; MatMulInteger is unsupported but lists types or checks');
  assert.match((parseSupportMatrix('{"source": ', 'cut.json') as { error: string }).error, /^cut\.json is not JSON: /);
});

test('versions: 10 and 10.1 take the matrix as published, 10.3 with a caveat, 8.6 has none', () => {
  for (const v of ['10', '10.x', '10.1']) assert.equal((matrixFor(v) as { value: { caveat: unknown } }).value.caveat, null, v);
  const later = matrixFor('10.3');
  assert.ok(later.ok);
  assert.match(later.value.caveat ?? '', /^TensorRT 10\.3: the matrix was published for 10\.0, 10\.1 \(release\/10\.1-GA\)/);
  const none = matrixFor('8.6');
  assert.ok(!none.ok);
  assert.match(none.error, /no TensorRT operator matrix for version '8\.6'; this linewatch has 10\.x/);
});

// ---------------------------------------------------------------------------------------------
// bundles

test('a float32 bundle: every node of the four graphs parses; the dynamic dimensions are listed', async () => {
  const r = await linewatch('model', 'check', '--bundle', float32, '--target', 'tensorrt', '--json');
  const report = JSON.parse(r.stdout);
  assert.deepEqual(
    report.graphs.map((g: { graph: string; problems: unknown[] }) => [g.graph, g.problems]),
    GRAPHS.map((g) => [g, []]),
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(report.pass, true);
  assert.equal(report.precision, 'fp32');
  const dims = (g: number) => report.graphs[g].dynamicDims.map((d: { input: string; axis: number; name: string }) => `${d.input}[${d.axis}]=${d.name}`);
  assert.deepEqual(dims(0), ['pixel_values[0]=B']);
  assert.deepEqual(dims(1), ['patch_embeds[0]=B', 'memory_bank[1]=M']);
  assert.deepEqual(dims(2), ['prompt_embeds[0]=P', 'prompt_embeds[1]=S', 'eot_index[0]=P']);
  assert.deepEqual(dims(3), ['prompt_embeds[0]=P', 'prompt_embeds[1]=S', 'eot_index[0]=P', 'upstream_grad[0]=P']);
  assert.ok(report.graphs[1].ops.includes('ReduceMax'), 'the memory graph was read');
  assert.ok(report.graphs[3].ops.includes('Erf') || report.graphs[3].ops.includes('Sigmoid'), 'the gradient graph was read');
});

test('an int8 bundle fails, naming each MatMulInteger and DynamicQuantizeLinear node of vision.onnx', async () => {
  const r = await linewatch('model', 'check', '--bundle', int8, '--target', 'tensorrt');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const named = [...r.stdout.matchAll(/^ {2}node (\S+) \((\w+)\): not supported by the ONNX parser of TensorRT 10$/gm)];
  const ops = new Set(named.map((m) => m[2]));
  assert.deepEqual([...ops].sort(), ['DynamicQuantizeLinear', 'MatMulInteger']);
  // the tiny fixture has 4 blocks of 6 quantized products each: qkv, out, and c_fc and c_proj
  // in two hidden-dimension blocks each (vision.ts MLP_CHUNKS)
  assert.equal(named.length, 2 * 24);
  assert.match(r.stdout, /^vision\.onnx .* FAIL/m);
  assert.match(r.stdout, /^text\.onnx .* ok/m);
  assert.match(r.stdout, /^48 problem\(s\) \(DynamicQuantizeLinear x24, MatMulInteger x24\)/m);

  const json = JSON.parse((await linewatch('model', 'check', '--bundle', int8, '--target', 'tensorrt', '--json')).stdout);
  assert.equal(json.pass, false);
  assert.deepEqual(
    json.graphs.map((g: { pass: boolean }) => g.pass),
    [false, true, true, true],
  );
});

test('--reference runs with --target tensorrt as well; either failing fails the command', async () => {
  const REFERENCE = path.join(FIXTURE, 'reference.safetensors');
  const both = await linewatch('model', 'check', '--bundle', int8, '--target', 'tensorrt', '--reference', REFERENCE, '--json');
  assert.equal(both.code, 1, both.stderr);
  const report = JSON.parse(both.stdout);
  assert.equal(report.pass, false);
  assert.equal(report.reference.pass, true, 'the int8 bundle is within its tolerance on the CPU');
  assert.equal(report.tensorrt.pass, false);
  const plain = await linewatch('model', 'check', '--bundle', float32, '--target', 'tensorrt', '--reference', REFERENCE);
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /all outputs within tolerance/);
  assert.match(plain.stdout, /every graph parses in TensorRT 10/);
});

test('bad usage: an unknown target or version, a version without the target, no reference without a target', async () => {
  const cases: [string[], RegExp][] = [
    [['--target', 'cuda'], /--target takes tensorrt, not 'cuda'/],
    [['--target', 'tensorrt', '--tensorrt-version', '8.6'], /--tensorrt-version: no TensorRT operator matrix for version '8\.6'/],
    [['--tensorrt-version', '10'], /--tensorrt-version needs --target tensorrt/],
    [[], /--reference/],
  ];
  for (const [args, message] of cases) {
    const r = await linewatch('model', 'check', '--bundle', float32, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const missing = await linewatch('model', 'check', '--bundle', path.join(work, 'none'), '--target', 'tensorrt');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /is not a model bundle: manifest\.json is missing/);
});

// ---------------------------------------------------------------------------------------------
// hand-made graphs

function graphOf(g: GraphBuilder, file = 'hand-made.onnx') {
  const graph = decodeOnnx(g.encode(), file);
  assert.ok(graph.ok, graph.ok ? '' : graph.error);
  return graph.value;
}

test('a hand-made graph with an op the parser lacks fails naming the node and the op', () => {
  const g = new GraphBuilder('unsupported');
  const x = g.input('x', 'float32', ['B', 4, 4]);
  g.output(g.node('Det', [g.node('Relu', [x])]), 'det', 'float32', ['B']);
  const check = checkGraph(graphOf(g), matrix(), '10');
  assert.equal(check.pass, false);
  assert.deepEqual(check.problems, [{ node: 'n_Det_3', op: 'Det', reason: 'not supported by the ONNX parser of TensorRT 10' }]);
  assert.deepEqual(check.ops, ['Det', 'Identity', 'Relu']);
});

test('restrictions: computed axes, unsupported attributes, extra outputs, wrong types, custom domains, dynamic dims', () => {
  const g = new GraphBuilder('restricted');
  const x = g.input('x', 'float32', ['B', 3, 'H', 8]);
  const computedAxes = g.node('Shape', [x], { start: 0, end: 1 });
  const sliced = g.node('Slice', [x, g.constI([0]), g.constI([2]), computedAxes]);
  const resized = g.node('Resize', [sliced, '', g.constF([1, 1, 2, 2])], { mode: 'cubic', antialias: 1 });
  const [normed, mean] = g.nodeN('LayerNormalization', [resized, g.constF(Array(16).fill(1)), g.constF(Array(16).fill(0))], 2);
  const casted = g.node('Cast', [normed], { to: 6 /* INT32 */ });
  const wrongType = g.node('MatMul', [casted, g.constI([1], [16, 1])]);
  const custom = g.nodeN('FusedGemm', [normed], 1, {}, 'com.microsoft')[0];
  for (const [v, name] of [
    [wrongType, 'a'],
    [mean, 'b'],
    [custom, 'c'],
  ] as const)
    g.output(v, name, 'float32', ['B']);
  const check = checkGraph(graphOf(g), matrix(), '10');
  const reasons = check.problems.map((p) => `${p.op ?? 'graph'}: ${p.reason}`);
  assert.deepEqual(reasons, [
    "graph: input 'x' dimension 2 is dynamic ('H'); only the batch dimension may be",
    `Slice: \`axes\` must be an initializer; here it is the computed tensor '${computedAxes}'`,
    'Resize: `mode` "cubic" is not supported ("nearest", "linear")',
    'Resize: `antialias` 1 is not supported (0)',
    'LayerNormalization: only the first 1 output(s) are supported; this node uses 2',
    `MatMul: input '${casted}' is INT32; the parser takes FP32, FP16, BF16`,
    "FusedGemm: op of domain 'com.microsoft': the parser takes only standard ONNX ops (or registered plugins)",
  ]);
});

test('OneHot depth: a static dimension is a build-time constant, a dynamic one is not', () => {
  const oneHotOver = (dims: (number | string)[], declared: boolean) => {
    const g = new GraphBuilder('onehot');
    const x = g.input('x', 'float32', dims);
    const index = g.input('index', 'int64', ['B']);
    const depth = g.node('Reshape', [g.node('Slice', [g.node('Shape', [x]), g.constI([1]), g.constI([2])]), g.constI([])]);
    g.output(g.node('OneHot', [index, depth, g.constF([0, 1])], { axis: -1 }), 'y', 'float32', ['B', dims[1]]);
    return checkGraph(graphOf(g), matrix(), '10', declared ? [{ input: 'x', axis: 1, meaning: 'length' }] : []);
  };
  assert.deepEqual(oneHotOver(['B', 12, 4], false).problems, []);
  const dynamic = oneHotOver(['B', 'S', 4], true);
  assert.deepEqual(
    dynamic.dynamicDims.map((d) => d.name),
    ['B', 'S', 'B'],
  );
  assert.deepEqual(
    dynamic.problems.map((p) => `${p.op}: ${p.reason}`),
    ["OneHot: `depth` must be a build-time constant; it depends on the dynamic dimension x[1] 'S'"],
  );
});

test('an opset outside the parser range is named', () => {
  const g = new GraphBuilder('opset');
  g.output(g.node('Relu', [g.input('x', 'float32', ['B', 2])]), 'y', 'float32', ['B', 2]);
  const graph = { ...graphOf(g), opset: 21 };
  assert.deepEqual(checkGraph(graph, matrix(), '10').problems, [{ node: null, op: null, reason: 'opset 21: the parser of TensorRT 10 takes opsets 9 to 20' }]);
});

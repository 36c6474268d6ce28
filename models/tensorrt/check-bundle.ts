// `linewatch model check --target tensorrt`: every graph of a bundle (vision.onnx and memory.onnx
// for inference, text.onnx and text_vjp.onnx for re-tuning on the device) against the ONNX-TensorRT parser's
// support matrix for one TensorRT version. No TensorRT library is needed: the check reads the
// graphs and the matrix only, so it runs in CI and on the build machine before a Jetson sees the
// bundle. The shapes the graphs leave dynamic by design are listed: TensorRT needs a range for
// each in its optimization profile.
import path from 'node:path';
import { err, ok, type Result } from '../../util/result.ts';
import { type Bundle, loadBundle } from '../bundle/load.ts';
import type { WeightPrecision } from '../onnx/transformer.ts';
import { checkGraph, type DeclaredDynamicDim, type GraphCheck } from './check-graph.ts';
import { readOnnxGraph } from './onnx-graph.ts';
import type { SelectedMatrix, SupportMatrix } from './support-matrix.ts';

export interface TensorrtReport {
  bundle: string;
  precision: WeightPrecision;
  tensorrtVersion: string;
  matrix: Pick<SupportMatrix['source'], 'url' | 'ref' | 'commit' | 'committed'> & { tensorrtVersions: string[] };
  /** Set when the matrix was not published for the requested version. */
  caveat: string | null;
  graphs: GraphCheck[];
  pass: boolean;
}

/** The bundle's graphs and the dimensions each leaves dynamic by design besides the batch. */
function bundleGraphs(b: Bundle): { file: string; declared: DeclaredDynamicDim[] }[] {
  // prompts are assembled at run time: S = learned tokens + 2 (SOS, EOT) or a tokenized meta prompt
  const promptLength: DeclaredDynamicDim = { input: 'prompt_embeds', axis: 1, meaning: `prompt length, 1 to ${b.manifest.text.contextLength} tokens` };
  // the bank holds every kept patch of the training normals: its length changes at every tuning
  const bankLength: DeclaredDynamicDim = { input: 'memory_bank', axis: 1, meaning: 'memory bank patches per layer, up to memory.max_patches' };
  return [
    { file: b.paths.vision, declared: [] },
    ...(b.paths.memory ? [{ file: b.paths.memory, declared: [bankLength] }] : []),
    { file: b.paths.text, declared: [promptLength] },
    { file: b.paths.textVjp, declared: [promptLength] },
  ];
}

export async function checkBundleForTensorrt(bundleDir: string, selected: SelectedMatrix): Promise<Result<TensorrtReport>> {
  const bundle = await loadBundle(bundleDir);
  if (!bundle.ok) return bundle;
  const { matrix, caveat, requested: version } = selected;
  const graphs: GraphCheck[] = [];
  for (const { file, declared } of bundleGraphs(bundle.value)) {
    const graph = await readOnnxGraph(file);
    if (!graph.ok) return err(`bundle ${bundle.value.dir}: ${graph.error}`);
    graphs.push(checkGraph(graph.value, matrix, version, declared));
  }
  const { url, ref, commit, committed } = matrix.source;
  return ok({
    bundle: bundle.value.dir,
    precision: bundle.value.manifest.vision.precision,
    tensorrtVersion: version,
    matrix: { url, ref, commit, committed, tensorrtVersions: matrix.tensorrtVersions },
    caveat,
    graphs,
    pass: graphs.every((g) => g.pass),
  });
}

export function formatTensorrtReport(r: TensorrtReport): string {
  const lines = [
    `bundle ${r.bundle} (${r.precision}) against the ONNX-TensorRT ${r.tensorrtVersion} operator matrix (${r.matrix.ref}, ${r.matrix.commit.slice(0, 7)}, ${r.matrix.committed})`,
  ];
  if (r.caveat) lines.push(`note: ${r.caveat}`);
  const width = Math.max(...r.graphs.map((g) => g.graph.length));
  for (const g of r.graphs) {
    const dynamic = g.dynamicDims.map((d) => `${d.input}[${d.axis}] '${d.name}' (${d.meaning})`).join(', ');
    lines.push(
      `${path.basename(g.graph).padEnd(width)}  ${String(g.nodes).padStart(5)} nodes, ${String(g.ops.length).padStart(2)} op types  ${g.pass ? 'ok' : 'FAIL'}${dynamic ? `  dynamic: ${dynamic}` : ''}`,
    );
    for (const p of g.problems) lines.push(`  ${p.node ? `node ${p.node} (${p.op})` : 'graph'}: ${p.reason}`);
  }
  const failing = r.graphs.flatMap((g) => g.problems);
  const byOp = new Map<string, number>();
  for (const p of failing) byOp.set(p.op ?? 'graph', (byOp.get(p.op ?? 'graph') ?? 0) + 1);
  lines.push(
    r.pass
      ? `every graph parses in TensorRT ${r.tensorrtVersion}; each dynamic dimension needs a range in the engine's optimization profile`
      : `${failing.length} problem(s) (${[...byOp].map(([op, n]) => `${op} x${n}`).join(', ')}): TensorRT ${r.tensorrtVersion} would not take these graphs whole`,
  );
  return `${lines.join('\n')}\n`;
}

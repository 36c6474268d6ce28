// Turns ajv's errors into the configuration's problems: one per key path, phrased from the schema
// node at that path (its `errorMessage`, else its keywords: "must be an integer in 1..60"), plus
// the value that was given unless the node is `writeOnly` (a secret). ajv reports several errors
// for one bad value (each anyOf branch, each tuple item); they become one problem at the nearest
// node that has an `errorMessage`, so a bad roi reads as one line about the roi.
import type { SchemaProblem } from '../../util/schema.ts';
import { nonNull, type SchemaNode, type Segment, schemaPath, valueAt } from './schema-nodes.ts';

export interface Problem {
  path: Segment[];
  reason: string;
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

function describeNumber(node: SchemaNode): string {
  const bounds: string[] = [];
  if (node.exclusiveMinimum !== undefined) bounds.push(`> ${node.exclusiveMinimum}`);
  if (node.minimum !== undefined && node.maximum !== undefined) bounds.push(`in ${node.minimum}..${node.maximum}`);
  else if (node.minimum !== undefined) bounds.push(`>= ${node.minimum}`);
  else if (node.maximum !== undefined) bounds.push(`<= ${node.maximum}`);
  return `must be ${node.type === 'integer' ? 'an integer' : 'a number'} ${bounds.join(' and ')}`.trimEnd();
}

/** What a value checked by `node` must be, in words. */
function describe(node: SchemaNode): string {
  if (node.errorMessage) return node.errorMessage;
  const n = nonNull(node);
  if (n.enum) return `must be one of ${n.enum.join(', ')}`;
  switch (n.type) {
    case 'boolean':
      return 'must be true or false';
    case 'number':
    case 'integer':
      return describeNumber(n);
    case 'string':
      return n.pattern ? `must be a string matching ${n.pattern}` : 'must be a non-empty string';
    case 'object':
      return 'must be a mapping';
    default:
      return 'must be a list';
  }
}

function unknownKeyReason(key: string, known: string[]): string {
  const close = known.find((k) => editDistance(k, key) <= 2);
  return close ? `unknown key (did you mean '${close}'?)` : `unknown key (known: ${known.join(', ')})`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** One problem for one ajv error; `path` is relative to `root`, which checked `data`. */
function phraseOne(p: SchemaProblem, root: SchemaNode, data: unknown): Problem {
  const { keyword } = p.error;
  if (keyword === 'additionalProperties') {
    const key = String(p.path[p.path.length - 1]);
    const parent = schemaPath(root, p.path.slice(0, -1)).at(-1)!;
    return { path: p.path, reason: parent.errorMessage ?? unknownKeyReason(key, Object.keys(parent.properties ?? {})) };
  }
  if (keyword === 'required') return { path: p.path, reason: 'required' };
  const nodes = schemaPath(root, p.path);
  // The nearest value node (not a section or map) that phrases its own problems, else the leaf.
  let at = nodes.length - 1;
  for (let i = nodes.length - 1; i > 0; i--) {
    if (nodes[i].errorMessage !== undefined && nodes[i].type !== 'object') {
      at = i;
      break;
    }
  }
  const node = nodes[at];
  const path = p.path.slice(0, at);
  return { path, reason: node.writeOnly ? describe(node) : `${describe(node)} (got ${show(valueAt(data, path))})` };
}

/** The problems of one validation, one per key path, in ajv's order; paths prefixed by `prefix`. */
export function phraseProblems(problems: readonly SchemaProblem[], root: SchemaNode, data: unknown, prefix: Segment[] = []): Problem[] {
  const byPath = new Map<string, Problem>();
  for (const p of problems) {
    const one = phraseOne(p, root, data);
    const key = JSON.stringify(one.path);
    if (!byPath.has(key)) byPath.set(key, { path: [...prefix, ...one.path], reason: one.reason });
  }
  return [...byPath.values()];
}

// Reads a configuration file as YAML and remembers where each key was written, so that a problem
// can name the file line. Duplicate keys are errors (the second one would silently win).
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { err, ok, type Result } from '../../util/result.ts';
import type { Segment } from './schema-nodes.ts';

export interface YamlFile {
  /** The document as plain data (`null` for an empty file). */
  data: unknown;
  /** The 1-based line of the value (or, when it has none, the key) at `segs`. */
  lineOf(segs: readonly Segment[]): number | undefined;
}

export function readYaml(file: string): Result<YamlFile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return err(`${file}: cannot read configuration: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return err(
      doc.errors
        .map((e) => {
          const at = lineCounter.linePos(e.pos[0]);
          return `${file}:${at.line}:${at.col}: ${e.message.split('\n')[0]}`;
        })
        .join('\n'),
    );
  }
  const lineOf = (segs: readonly Segment[]) => {
    const node = doc.getIn(segs, true) as { range?: [number, number, number] } | undefined;
    const at = node?.range ? node.range[0] : keyOffset(doc, segs);
    return at === undefined ? undefined : lineCounter.linePos(at).line;
  };
  return ok({ data: doc.toJS() ?? null, lineOf });
}

/** Offset of the key node for `segs` (used when the value is absent, e.g. `key:` with no value). */
function keyOffset(doc: YAML.Document, segs: readonly Segment[]): number | undefined {
  const parent = doc.getIn(segs.slice(0, -1), true);
  if (!YAML.isMap(parent)) return undefined;
  const pair = parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === segs[segs.length - 1]);
  return YAML.isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
}

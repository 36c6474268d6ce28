// The mapping from the configuration as written to the one the agent uses, for the keys whose
// meaning JSON Schema cannot check: relative paths resolved against the folder of the file they
// were written in (or the working directory, for a value from the environment), TLS files that
// must be readable, `model.bundle` -> BundleRef, camera `source` -> SourceSpec, cron expressions
// checked by node-cron. Each resolver runs only on a string (the schema has already reported
// anything else), so its problems add to the schema's.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateDetailed as validateCron } from 'node-cron';
import { err, ok, type Result } from '../../util/result.ts';
import { parseSource } from '../camera/source-spec.ts';
import type { Problem } from './phrase.ts';
import { defineOwn, isPlainObject, type Segment, valueAt } from './schema-nodes.ts';

export type BundleRef = { kind: 'auto' } | { kind: 'dir'; path: string } | { kind: 'hub'; repo: string };

type Resolve = (text: string, baseDir: string) => Result<unknown>;

const directory: Resolve = (text, baseDir) => ok(path.resolve(baseDir, text));

const readableFile: Resolve = (text, baseDir) => {
  const file = path.resolve(baseDir, text);
  try {
    readFileSync(file);
    return ok(file);
  } catch {
    return err(`cannot read file ${file}`);
  }
};

const bundleRef: Resolve = (text, baseDir): Result<BundleRef> => {
  if (text === 'auto') return ok({ kind: 'auto' });
  return /^(\/|\.\.?\/)/.test(text) ? ok({ kind: 'dir', path: path.resolve(baseDir, text) }) : ok({ kind: 'hub', repo: text });
};

const cron: Resolve = (text) => {
  const r = validateCron(text);
  return r.valid ? ok(text) : err(`invalid cron expression ${JSON.stringify(text)}: ${r.errors.map((e) => e.message).join('; ')}`);
};

/** `*` stands for every entry of a map. */
const RESOLVERS: [path: string[], resolve: Resolve][] = [
  [['data_dir'], directory],
  [['model', 'bundle'], bundleRef],
  [['mqtt', 'ca'], readableFile],
  [['mqtt', 'cert'], readableFile],
  [['mqtt', 'key'], readableFile],
  [['retune', 'cron'], cron],
  [['cameras', '*', 'source'], parseSource],
];

function expand(raw: unknown, pattern: string[]): Segment[][] {
  let paths: Segment[][] = [[]];
  for (const seg of pattern) {
    paths = paths.flatMap((p) => {
      if (seg !== '*') return [[...p, seg]];
      const map = valueAt(raw, p);
      return isPlainObject(map) ? Object.keys(map).map((k) => [...p, k]) : [];
    });
  }
  return paths;
}

/** Replaces, in place, each resolvable string of `raw` by what it means; returns what could not be resolved. */
export function resolveValues(raw: Record<string, unknown>, baseDirOf: (segs: Segment[]) => string): Problem[] {
  const problems: Problem[] = [];
  for (const [pattern, resolve] of RESOLVERS) {
    for (const segs of expand(raw, pattern)) {
      const text = valueAt(raw, segs);
      const parent = valueAt(raw, segs.slice(0, -1));
      if (typeof text !== 'string' || !isPlainObject(parent)) continue;
      const r = resolve(text, baseDirOf(segs));
      if (r.ok) defineOwn(parent, String(segs[segs.length - 1]), r.value);
      else problems.push({ path: segs, reason: r.error });
    }
  }
  return problems;
}

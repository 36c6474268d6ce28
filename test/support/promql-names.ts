// The metric names a PromQL expression reads, so a test can hold dashboards and alert rules to
// the names a running agent exports. Not a PromQL parser: a scan that removes what cannot be a
// metric name (strings, label matchers, ranges, grouping label lists, Grafana variables, numbers,
// durations) and keeps the identifiers that are neither functions (followed by `(`) nor keywords.

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

export function metricNamesIn(expr: string): string[] {
  const scrubbed = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\b\d[\w.]*/g, ' ');
  const names = new Set<string>();
  for (const m of scrubbed.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\()?)/g)) {
    if (m[1] === '(' || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}

/**
 * The sample names a Prometheus text exposition declares with `# TYPE`, whether or not a sample
 * was recorded yet (a labelled counter nobody incremented has no sample line): a histogram or
 * summary `x` adds `x_bucket`, `x_sum` and `x_count`.
 */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m;
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

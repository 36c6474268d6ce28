// report.html of `linewatch eval`: one self-contained page (inline CSS, SVG curves, overlay
// thumbnails as data-URI PNGs) with the metrics table, and per category the image ROC, pixel ROC
// and PRO curves and a sample of test images with their anomaly maps (heat) and ground truth
// (green outline).
import path from 'node:path';
import type { CategoryResult, ReportedScorer } from './evaluate-category.ts';
import { type CategoryMetrics, METRIC_KEYS } from './evaluate-category.ts';
import { escapeXml, lineChart } from './svg-chart.ts';

export interface ReportInput {
  title: string;
  /** Lines describing the run (bundle, shots, seed, ...). */
  settings: Record<string, string | number | boolean | null>;
  categories: CategoryResult[];
  mean: CategoryMetrics;
  /** Every scorer reported on (mean over categories). */
  meanByScorer: Partial<Record<ReportedScorer, CategoryMetrics>>;
  datasetRoot: string;
}

const COLOURS = { image: '#1f77b4', pixel: '#d62728', pro: '#2ca02c' };

export function renderReport(r: ReportInput): string {
  const head = ['category', ...METRIC_KEYS].map((k) => `<th>${escapeXml(k)}</th>`).join('');
  const row = (name: string, m: CategoryMetrics, cls = '') =>
    `<tr class="${cls}"><td>${escapeXml(name)}</td>${METRIC_KEYS.map((k) => `<td>${m[k].toFixed(4)}</td>`).join('')}</tr>`;
  const rows = [...r.categories.map((c) => row(c.name, c.metrics)), row('mean', r.mean, 'mean')].join('\n');
  const scorers = Object.keys(r.meanByScorer) as ReportedScorer[];
  const byScorer = scorers
    .map(
      (name) =>
        `<h3>scorer: ${escapeXml(name)}</h3>\n<table><tr>${head}</tr>\n${[...r.categories.map((c) => row(c.name, c.byScorer[name]!)), row('mean', r.meanByScorer[name]!, 'mean')].join('\n')}\n</table>`,
    )
    .join('\n');
  const settings = Object.entries(r.settings)
    .map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(String(v))}</td></tr>`)
    .join('\n');
  const sections = r.categories.map((c) => categorySection(c, r.datasetRoot)).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(r.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr.mean td { font-weight: bold; }
.curves { display: flex; flex-wrap: wrap; gap: 12px; }
.thumbs { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; font-size: 12px; } figure img { display: block; image-rendering: auto; }
.note { color: #666; font-size: 13px; }
</style></head><body>
<h1>${escapeXml(r.title)}</h1>
<table>${settings}</table>
<h2>Metrics</h2>
<table><tr>${head}</tr>
${rows}
</table>
${scorers.length > 1 ? `<h2>Metrics per scorer</h2>\n${byScorer}` : ''}
<p class="note">PRO: area under the per-region-overlap curve up to FPR 0.3, divided by 0.3. Overlays: anomaly map as heat (blue low, red high, one scale per category), ground truth outlined in green.</p>
${sections}
</body></html>
`;
}

function categorySection(c: CategoryResult, root: string): string {
  const curves = [
    lineChart([{ name: `AUROC ${c.metrics.image_auroc.toFixed(3)}`, points: c.curves.imageRoc, colour: COLOURS.image }], {
      title: 'image ROC',
      xLabel: 'false-positive rate',
      yLabel: 'true-positive rate',
      diagonal: true,
    }),
    lineChart([{ name: `AUROC ${c.metrics.pixel_auroc.toFixed(3)}`, points: c.curves.pixelRoc, colour: COLOURS.pixel }], {
      title: 'pixel ROC',
      xLabel: 'false-positive rate',
      yLabel: 'true-positive rate',
      diagonal: true,
    }),
    lineChart([{ name: `PRO ${c.metrics.pro.toFixed(3)}`, points: c.curves.pro, colour: COLOURS.pro }], {
      title: 'PRO (to FPR 0.3)',
      xLabel: 'false-positive rate',
      yLabel: 'per-region overlap',
      xMax: 0.3,
    }),
  ].join('\n');
  const thumbs = c.thumbnails
    .map((t) => {
      const name = path.relative(root, t.path) || path.basename(t.path);
      return `<figure><img alt="${escapeXml(name)}" src="data:image/png;base64,${t.png.toString('base64')}"><figcaption>${escapeXml(name)}<br>${escapeXml(t.type)} · score ${t.score.toFixed(4)}</figcaption></figure>`;
    })
    .join('\n');
  const t = c.timings;
  const timing = `tuning: synthesis ${sec(t.synthesis)}, features ${sec(t.features)}, prompt steps ${sec(t.steps)}; test inference ${sec(t.inference)}; metrics ${sec(t.metrics)}`;
  const shots = c.shots.length ? `shots: ${c.shots.map((s) => escapeXml(path.basename(s))).join(', ')}` : 'scored with the given prompt set';
  return `<h2>${escapeXml(c.name)}</h2>
<p class="note">${c.scores.length} test images · ${shots}<br>${timing}</p>
<div class="curves">${curves}</div>
<div class="thumbs">${thumbs}</div>`;
}

function sec(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// A small inline-SVG line chart for curves on [0, xMax] x [0, yMax] (ROC, PRO): axes with ticks,
// one polyline per series, a legend. Self-contained text, no scripts.
import type { CurvePoint } from '../metrics.ts';

export interface Series {
  name: string;
  points: CurvePoint[];
  colour: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xMax?: number;
  yMax?: number;
  /** Draw the y = x (chance) line scaled to the axes. */
  diagonal?: boolean;
}

const W = 320;
const H = 260;
const PAD = { left: 46, right: 12, top: 26, bottom: 40 };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function lineChart(series: Series[], o: ChartOptions): string {
  const xMax = o.xMax ?? 1;
  const yMax = o.yMax ?? 1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const px = (x: number) => PAD.left + (Math.min(Math.max(x, 0), xMax) / xMax) * plotW;
  const py = (y: number) => PAD.top + plotH - (Math.min(Math.max(y, 0), yMax) / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(o.title)}">`);
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(o.title)}</text>`);
  parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  for (let k = 0; k <= 5; k++) {
    const xv = (k / 5) * xMax;
    const yv = (k / 5) * yMax;
    parts.push(`<line x1="${px(xv)}" y1="${PAD.top + plotH}" x2="${px(xv)}" y2="${PAD.top + plotH + 4}" stroke="#888"/>`);
    parts.push(`<text x="${px(xv)}" y="${PAD.top + plotH + 15}" text-anchor="middle" font-size="10">${round(xv)}</text>`);
    parts.push(`<line x1="${PAD.left - 4}" y1="${py(yv)}" x2="${PAD.left}" y2="${py(yv)}" stroke="#888"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${py(yv) + 3}" text-anchor="end" font-size="10">${round(yv)}</text>`);
  }
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${H - 6}" text-anchor="middle" font-size="11">${escapeXml(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="11">${escapeXml(o.yLabel)}</text>`);
  if (o.diagonal) {
    const end = Math.min(xMax, yMax);
    parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(end)}" y2="${py(end)}" stroke="#bbb" stroke-dasharray="4 3"/>`);
  }
  series.forEach((s, i) => {
    const points = s.points.filter((p) => p.x <= xMax + 1e-12).map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="1.6" points="${points.join(' ')}"/>`);
    const ly = PAD.top + plotH - 10 - 14 * (series.length - 1 - i);
    parts.push(`<line x1="${px(xMax) - 110}" y1="${ly}" x2="${px(xMax) - 94}" y2="${ly}" stroke="${s.colour}" stroke-width="2"/>`);
    parts.push(`<text x="${px(xMax) - 90}" y="${ly + 3}" font-size="10">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function round(v: number): string {
  return String(Math.round(v * 100) / 100);
}

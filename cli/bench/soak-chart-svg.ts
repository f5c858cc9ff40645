import { escapeXml, niceStep } from '../load/share-chart-svg.js';
import type { SoakSample } from './soak-verdict.js';

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

interface Series {
  readonly title: string;
  readonly colour: string;
  readonly value: (s: SoakSample) => number;
}

const SERIES: readonly Series[] = [
  { title: 'RSS (MiB)', colour: '#4e79a7', value: (s) => s.rssBytes / 1024 / 1024 },
  { title: 'open fds', colour: '#e15759', value: (s) => s.fds },
  { title: 'upstream sockets', colour: '#59a14f', value: (s) => s.upstreamSockets },
];

/** Stacked line panels over time: RSS, open fds, upstream sockets; the load phase is shaded. */
export function renderSoakChart(samples: readonly SoakSample[], title: string): string {
  const width = 860;
  const panelH = 130;
  const gap = 34;
  const m = { top: 76, left: 64, right: 24, bottom: 40 };
  const height = m.top + SERIES.length * (panelH + gap) + m.bottom - gap;
  const pw = width - m.left - m.right;
  const t0 = samples.length ? samples[0]!.tMs : 0;
  const t1 = samples.length ? samples[samples.length - 1]!.tMs : 1;
  const span = Math.max(1, t1 - t0);
  const x = (t: number): number => m.left + ((t - t0) / span) * pw;
  const load = samples.filter((s) => s.phase === 'load');
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(title)}</title>`, `<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="600">${escapeXml(title)}</text>`);
  out.push(`<text x="${m.left}" y="40" fill="#555">shaded: under load; before it the baseline, after it the settle time</text>`);
  SERIES.forEach((series, k) => {
    const top = m.top + k * (panelH + gap);
    const values = samples.map(series.value);
    const max = Math.max(1, ...values) * 1.1;
    const y = (v: number): number => top + panelH - (v / max) * panelH;
    if (load.length) out.push(`<rect x="${fmt(x(load[0]!.tMs))}" y="${top}" width="${fmt(x(load[load.length - 1]!.tMs) - x(load[0]!.tMs))}" height="${panelH}" fill="#f1f1f1"/>`);
    const step = niceStep(max / 4);
    for (let v = 0; v <= max; v += step) {
      out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${fmt(y(v))}" y2="${fmt(y(v))}" stroke="#ddd"/>`);
      out.push(`<text x="${m.left - 6}" y="${fmt(y(v) + 4)}" text-anchor="end" fill="#555">${Number(v.toPrecision(4))}</text>`);
    }
    out.push(`<text x="${m.left}" y="${top - 6}" font-weight="600" fill="${series.colour}">${escapeXml(series.title)}</text>`);
    const points = samples.map((s) => `${fmt(x(s.tMs))},${fmt(y(series.value(s)))}`).join(' ');
    if (samples.length) out.push(`<polyline points="${points}" fill="none" stroke="${series.colour}" stroke-width="1.5"/>`);
    out.push(`<rect x="${m.left}" y="${top}" width="${pw}" height="${panelH}" fill="none" stroke="#888"/>`);
  });
  const step = niceStep(span / 1000 / 8);
  const bottom = m.top + SERIES.length * (panelH + gap) - gap;
  for (let s = Math.ceil(t0 / 1000 / step) * step; s <= t1 / 1000 + 1e-9; s += step) {
    out.push(`<text x="${fmt(x(s * 1000))}" y="${bottom + 16}" text-anchor="middle" fill="#555">${Number(s.toPrecision(6))}</text>`);
  }
  out.push(`<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle" fill="#555">seconds since the load started</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

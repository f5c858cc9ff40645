import type { LoadReport } from './report.js';

/** Colours for series, cycled; chosen to stay apart for common colour-vision deficiencies. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

/** The smallest of 1, 2, 5 times a power of ten that is at least `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}

/** What a share chart draws: a timeline of responses per backend, with their totals. */
export interface ShareChartData {
  readonly subtitle: string;
  readonly timeline: LoadReport['timeline'];
  readonly backends: readonly { readonly id: string; readonly count: number; readonly share: number }[];
}

/** A moment marked on the chart (a fault injected), ms from the start. */
export interface ChartMark {
  readonly atMs: number;
  readonly label: string;
}

/** The share chart of a `switchyard load` run. */
export function renderShareChart(r: LoadReport, opts: { width?: number; height?: number } = {}): string {
  const subtitle = `${r.method} ${r.url} · ${r.connections} connections · ${r.requests.completed} responses in ${(r.durationMs / 1000).toFixed(1)} s · ${r.timeline.intervalMs} ms intervals`;
  return renderShares({ subtitle, timeline: r.timeline, backends: r.backends }, opts);
}

/**
 * Per-backend share of responses over time as a 100 % stacked step chart:
 * each interval of the timeline is one column split by backend. Intervals
 * with no responses are left blank; marks are vertical lines with a label.
 */
export function renderShares(r: ShareChartData, opts: { width?: number; height?: number; marks?: readonly ChartMark[] } = {}): string {
  const width = opts.width ?? 860;
  const height = opts.height ?? 420;
  const m = { top: 56, right: 180, bottom: 48, left: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const { intervalMs, points } = r.timeline;
  const spanMs = Math.max(intervalMs, points.length * intervalMs);
  const x = (ms: number): number => m.left + (ms / spanMs) * pw;
  const y = (share: number): number => m.top + (1 - share) * ph;
  const ids = r.backends.map((b) => b.id);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
  );
  out.push(`<title>Share of responses per backend over time</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="600">Share of responses per backend over time</text>`);
  out.push(`<text x="${m.left}" y="40" fill="#555">${escapeXml(r.subtitle)}</text>`);

  // grid and axes
  for (const s of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${fmt(y(s))}" y2="${fmt(y(s))}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 8}" y="${fmt(y(s) + 4)}" text-anchor="end" fill="#555">${s * 100}%</text>`);
  }
  const step = niceStep(spanMs / 8);
  for (let ms = 0; ms <= spanMs + 1e-9; ms += step) {
    out.push(`<text x="${fmt(x(ms))}" y="${m.top + ph + 18}" text-anchor="middle" fill="#555">${Number((ms / 1000).toPrecision(6))}</text>`);
  }
  out.push(`<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle" fill="#555">seconds since start</text>`);

  // one path per backend, stacked in id order
  ids.forEach((id, k) => {
    let d = '';
    points.forEach((p, i) => {
      if (p.total === 0) return;
      let below = 0;
      for (let j = 0; j < k; j++) below += p.byBackend[ids[j]!] ?? 0;
      const mine = p.byBackend[id] ?? 0;
      if (mine === 0) return;
      const x0 = x(i * intervalMs);
      const x1 = x((i + 1) * intervalMs);
      const y0 = y(below / p.total);
      const y1 = y((below + mine) / p.total);
      d += `M${fmt(x0)} ${fmt(y0)}H${fmt(x1)}V${fmt(y1)}H${fmt(x0)}Z`;
    });
    if (d) out.push(`<path d="${d}" fill="${PALETTE[k % PALETTE.length]}" stroke="none"><title>${escapeXml(id)}</title></path>`);
  });
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  (opts.marks ?? []).forEach((mk, i) => {
    const mx = fmt(x(Math.min(mk.atMs, spanMs)));
    out.push(`<line x1="${mx}" x2="${mx}" y1="${m.top}" y2="${m.top + ph}" stroke="#222" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${mx}" y="${m.top + 12 + (i % 3) * 13}" dx="3" font-size="11" fill="#222">${escapeXml(mk.label)}</text>`);
  });

  // legend with totals
  r.backends.forEach((b, k) => {
    const ly = m.top + 8 + k * 20;
    out.push(`<rect x="${m.left + pw + 16}" y="${ly - 10}" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/>`);
    out.push(`<text x="${m.left + pw + 34}" y="${ly}">${escapeXml(b.id)} ${(b.share * 100).toFixed(1)}% (${b.count})</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

import { escapeXml, PALETTE } from '../load/share-chart-svg.js';
import { formatMs, formatRps } from './ratio-table.js';
import type { BenchResult, Figures } from './results.js';

interface Panel {
  readonly title: string;
  readonly value: (f: Figures) => number | null;
  readonly format: (x: number) => string;
  readonly better: string;
}

const PANELS: readonly Panel[] = [
  { title: 'req/s', value: (f) => f.rps, format: formatRps, better: 'higher is better' },
  { title: 'p99 latency (ms)', value: (f) => f.p99Ms, format: formatMs, better: 'lower is better' },
  { title: 'proxy CPU per request (µs)', value: (f) => f.cpuUsPerReq, format: (x) => x.toFixed(0), better: 'lower is better' },
];

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

/**
 * Three bar panels side by side (req/s, p99, CPU/request), one row per
 * proxy and one bar per connection count, from the nginx-backend rows.
 */
export function renderBenchChart(result: BenchResult): string {
  const rows = result.rows.filter((r) => r.backend === 'nginx');
  const proxies: { id: string; label: string }[] = [];
  for (const r of rows) if (!proxies.some((p) => p.id === r.proxy)) proxies.push({ id: r.proxy, label: r.label });
  const conns = [...new Set(rows.map((r) => r.connections))];
  const barH = 12;
  const rowH = conns.length * barH + 10;
  const labelW = 190;
  const panelW = 280;
  const gap = 30;
  const top = 96;
  const width = labelW + PANELS.length * (panelW + gap);
  const height = top + proxies.length * rowH + 40;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push('<title>Switchyard bench: req/s, p99 and CPU per request per proxy</title>');
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="10" y="22" font-size="15" font-weight="600">Proxies in front of two nginx backends: req/s, p99 and CPU per request</text>`);
  const sub = `${result.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${result.machine.cpus} CPUs · ${result.loadGenerator} · medians of ${result.settings.rounds} round(s) of ${result.settings.durationMs / 1000} s`;
  out.push(`<text x="10" y="40" fill="#555">${escapeXml(sub)}</text>`);
  conns.forEach((c, k) => {
    const x = 10 + k * 130;
    out.push(`<rect x="${x}" y="50" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/>`);
    out.push(`<text x="${x + 18}" y="60">${c} connections</text>`);
  });
  proxies.forEach((p, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) out.push(`<rect x="0" y="${y - 4}" width="${width}" height="${rowH}" fill="#f6f6f6"/>`);
    out.push(`<text x="${labelW - 8}" y="${fmt(y + (conns.length * barH) / 2)}" text-anchor="end" dominant-baseline="middle">${escapeXml(p.label)}</text>`);
  });
  PANELS.forEach((panel, k) => {
    const x0 = labelW + k * (panelW + gap);
    const values = rows.map((r) => panel.value(r.median)).filter((v): v is number => v !== null && Number.isFinite(v));
    const max = Math.max(1e-9, ...values);
    out.push(`<text x="${x0}" y="${top - 8}" font-weight="600">${escapeXml(panel.title)} <tspan fill="#777" font-weight="400">(${panel.better})</tspan></text>`);
    out.push(`<line x1="${x0}" x2="${x0}" y1="${top - 4}" y2="${top + proxies.length * rowH - 4}" stroke="#999"/>`);
    proxies.forEach((p, i) => {
      conns.forEach((c, j) => {
        const row = rows.find((r) => r.proxy === p.id && r.connections === c);
        const v = row ? panel.value(row.median) : null;
        const y = top + i * rowH + j * barH;
        if (v === null || !Number.isFinite(v)) {
          out.push(`<text x="${x0 + 4}" y="${y + barH - 2}" fill="#999" font-size="10">n/a</text>`);
          return;
        }
        const w = Math.max(1, (v / max) * (panelW - 50));
        out.push(`<rect x="${x0}" y="${y}" width="${fmt(w)}" height="${barH - 2}" fill="${PALETTE[j % PALETTE.length]}"><title>${escapeXml(`${p.label}, ${c} connections: ${panel.format(v)}`)}</title></rect>`);
        out.push(`<text x="${fmt(x0 + w + 4)}" y="${y + barH - 3}" font-size="10" fill="#333">${escapeXml(panel.format(v))}</text>`);
      });
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

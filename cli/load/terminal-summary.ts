import { barChart, formatCount } from './bar-chart.js';
import type { LoadReport } from './report.js';

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 / 1024 / 1024).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function limitText(r: LoadReport): string {
  return r.limit.kind === 'requests' ? `${formatCount(r.limit.requests)} requests` : `${formatMs(r.limit.durationMs)}`;
}

/** The human summary printed at the end of a run. */
export function renderSummary(r: LoadReport): string {
  const l = r.latencyMs;
  const statuses = Object.entries(r.statusCodes).map(([s, n]) => `${s} × ${formatCount(n)}`);
  const errors: string[] = [];
  if (r.errors.timeouts) errors.push(`${formatCount(r.errors.timeouts)} timeouts`);
  if (r.errors.connection) errors.push(`${formatCount(r.errors.connection)} connection errors`);
  const lines = [
    `${r.method} ${r.url}  ${r.connections} connections, ${limitText(r)}${r.rate ? `, ${formatCount(r.rate)} req/s target` : ''}`,
    '',
    `Requests   ${formatCount(r.requests.completed)} completed in ${formatMs(r.durationMs)}: ${formatCount(r.requests.perSecond)} req/s, ${formatBytes(r.bytes.perSecond)}/s`,
    `Latency    p50 ${formatMs(l.p50)}   p90 ${formatMs(l.p90)}   p99 ${formatMs(l.p99)}   max ${formatMs(l.max)}   (mean ${formatMs(l.mean)})`,
    `Status     ${statuses.length ? statuses.join(', ') : 'no responses'}`,
    `Errors     ${errors.length ? errors.join(', ') : 'none'}`,
    '',
  ];
  if (r.backends.length === 0) {
    lines.push('Per backend: no responses.');
  } else {
    lines.push('Per backend (X-Backend response header)');
    lines.push(...barChart(r.backends.map((b) => ({ label: b.id, value: b.count, note: `${(b.share * 100).toFixed(1).padStart(5)}%` }))));
    lines.push(`  total ${formatCount(r.backends.reduce((s, b) => s + b.count, 0))}`);
  }
  lines.push('');
  return lines.join('\n');
}

import { findRow, ratio, runOfRound, type BackendVariant, type BenchRow, type Check, type Figures } from './results.js';
import { REFERENCE_ROWS, type BenchProtocol } from './targets.js';

const PROTOCOL_TITLES: Readonly<Record<BenchProtocol, string>> = { http: '', https: ', HTTPS (HTTP/1.1 over TLS)', h2: ', HTTP/2 over TLS' };
const protocolOfRow = (r: BenchRow): BenchProtocol => r.protocol ?? 'http';

export function formatRps(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : Math.round(x).toLocaleString('en-US');
}

export function formatMs(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

const formatRatio = (x: number | null): string => (x === null ? '-' : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const formatInt = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US'));

interface Column {
  readonly title: string;
  readonly value: (f: Figures) => number | null;
  readonly format: (x: number | null) => string;
  readonly withRatios: boolean;
}

const COLUMNS: readonly Column[] = [
  { title: 'req/s', value: (f) => f.rps, format: (x) => (x === null ? '-' : formatRps(x)), withRatios: true },
  { title: 'p50 ms', value: (f) => f.p50Ms, format: (x) => (x === null ? '-' : formatMs(x)), withRatios: true },
  { title: 'p99 ms', value: (f) => f.p99Ms, format: (x) => (x === null ? '-' : formatMs(x)), withRatios: true },
  { title: 'p99.9 ms', value: (f) => f.p999Ms, format: (x) => (x === null ? '-' : formatMs(x)), withRatios: true },
  { title: 'errors', value: (f) => f.errors, format: formatInt, withRatios: false },
  { title: 'RSS MiB', value: (f) => f.rssMiB, format: formatInt, withRatios: true },
  { title: 'CPU µs/req', value: (f) => f.cpuUsPerReq, format: (x) => (x === null ? '-' : x.toFixed(1)), withRatios: true },
];

/** Left-aligns the first column and right-aligns the rest. */
function align(lines: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const cells of lines) cells.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return lines.map((cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

/**
 * One table per backend variant, connection count and client protocol: every
 * figure followed by its ratio to nginx (1 worker) and to Switchyard (1
 * process) of the same group, speaking the same protocol (HTTPS rows to
 * nginx and Switchyard over HTTPS). Ratios are of medians, so they are
 * same-run ratios.
 */
export function renderRatioTable(rows: readonly BenchRow[], rounds: number): string {
  const out: string[] = [];
  const groups: [BackendVariant, number, BenchProtocol][] = [];
  for (const r of rows) if (!groups.some(([b, c, p]) => b === r.backend && c === r.connections && p === protocolOfRow(r))) groups.push([r.backend, r.connections, protocolOfRow(r)]);
  for (const [backend, connections, protocol] of groups) {
    const nginx = findRow(rows, REFERENCE_ROWS[protocol].nginx, connections, backend)?.median;
    const sy = findRow(rows, REFERENCE_ROWS[protocol].switchyard, connections, backend)?.median;
    out.push(
      `${connections} connections, ${backend === 'nginx' ? 'nginx' : 'Node (switchyard backend)'} backends${PROTOCOL_TITLES[protocol]}, medians of ${rounds} round${rounds === 1 ? '' : 's'}; each figure then ×nginx and ×Switchyard`,
    );
    const head1 = ['proxy'];
    const head2 = [''];
    for (const c of COLUMNS) {
      head1.push(c.title);
      head2.push('');
      if (c.withRatios) {
        head1.push('', '');
        head2.push('×ngx', '×sy');
      }
    }
    const lines: string[][] = [head1, head2];
    for (const r of rows.filter((x) => x.backend === backend && x.connections === connections && protocolOfRow(x) === protocol)) {
      const cells = [r.label];
      for (const c of COLUMNS) {
        const v = c.value(r.median);
        cells.push(c.format(v));
        if (c.withRatios) cells.push(formatRatio(ratio(v, nginx ? c.value(nginx) : null)), formatRatio(ratio(v, sy ? c.value(sy) : null)));
      }
      lines.push(cells);
    }
    out.push(...align(lines), '');
  }
  return out.join('\n');
}

/**
 * Every measured run at the highest connection count (nginx backends): p99 and
 * max per round, so a slow round shows instead of hiding under the median.
 */
export function renderRounds(rows: readonly BenchRow[]): string {
  const nginxRows = rows.filter((r) => r.backend === 'nginx');
  if (nginxRows.length === 0) return '';
  const high = Math.max(...nginxRows.map((r) => r.connections));
  const group = nginxRows.filter((r) => r.connections === high);
  const rounds = Math.max(...group.map((r) => r.rounds.length));
  if (rounds < 2) return '';
  const head = ['proxy', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`)];
  const lines: string[][] = [head];
  for (const r of group) {
    const cells = [r.label];
    for (let i = 1; i <= rounds; i++) {
      const f = runOfRound(r.rounds, i);
      cells.push(f === undefined ? '-' : `${formatMs(f.p99Ms)} / ${formatMs(f.maxMs)}`);
    }
    lines.push(cells);
  }
  return [`${high} connections, every round: p99 / max ms (the order of proxies rotates each round)`, ...align(lines), ''].join('\n');
}

export function renderChecks(checks: readonly Check[]): string {
  const mark = (p: boolean | null): string => (p === null ? ' n/a' : p ? 'pass' : 'FAIL');
  return ['Acceptance figures (this run):', ...checks.map((c) => `  [${mark(c.pass)}] ${c.name}: ${c.detail}`), ''].join('\n');
}

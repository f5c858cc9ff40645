import { findRow, ratio, type BenchRow, type Check } from './results.js';

const f2 = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(2)}×`);

function bound(name: string, value: number | null, limit: number, direction: 'max' | 'min', what: string): Check {
  if (value === null) return { name, pass: null, detail: `not measured (${what})` };
  const pass = direction === 'max' ? value <= limit : value >= limit;
  return { name, pass, detail: `${f2(value)} (${direction === 'max' ? '≤' : '≥'} ${limit}×) — ${what}` };
}

/**
 * The acceptance criteria of issue 6 read off one run's medians (nginx
 * backends). Informational: the bench reports them, it does not fail on them.
 */
export function acceptanceChecks(rows: readonly BenchRow[], connections: readonly number[]): Check[] {
  const low = connections.includes(64) ? 64 : connections[0]!;
  const high = connections.includes(256) ? 256 : connections[connections.length - 1]!;
  const m = (proxy: string, c: number) => findRow(rows, proxy, c)?.median;
  const sy = m('switchyard', low);
  const checks: Check[] = [
    bound(`CPU/request vs bare undici loop (c${low})`, ratio(sy?.cpuUsPerReq, m('undici-loop', low)?.cpuUsPerReq), 1.1, 'max', 'switchyard / undici-loop'),
    bound(`CPU/request vs http-proxy + keep-alive agent (c${low})`, ratio(sy?.cpuUsPerReq, m('http-proxy-agent', low)?.cpuUsPerReq), 0.5, 'max', 'switchyard / http-proxy-agent'),
    bound(`CPU/request vs naive seed-style balancer (c${low})`, ratio(sy?.cpuUsPerReq, m('naive', low)?.cpuUsPerReq), 0.25, 'max', 'switchyard / naive'),
    bound(`req/s, 1 process vs nginx 1 worker (c${low})`, ratio(sy?.rps, m('nginx', low)?.rps), 0.35, 'min', 'switchyard / nginx'),
    bound(`req/s, --workers 2 vs nginx 2 workers (c${low})`, ratio(m('switchyard-w2', low)?.rps, m('nginx-w2', low)?.rps), 0.45, 'min', 'switchyard-w2 / nginx-w2'),
    bound(`p99, --workers 2 vs nginx 2 workers (c${high})`, ratio(m('switchyard-w2', high)?.p99Ms, m('nginx-w2', high)?.p99Ms), 3, 'max', 'switchyard-w2 / nginx-w2'),
    bound(`p99 vs nginx (c${low})`, ratio(sy?.p99Ms, m('nginx', low)?.p99Ms), 2.5, 'max', 'switchyard / nginx'),
  ];
  const syRows = rows.filter((r) => r.proxy.startsWith('switchyard'));
  const errors = syRows.reduce((s, r) => s + r.rounds.reduce((a, x) => a + x.errors, 0), 0);
  checks.push(
    syRows.length
      ? { name: 'zero errors in every Switchyard run', pass: errors === 0, detail: `${errors} errors over ${syRows.reduce((s, r) => s + r.rounds.length, 0)} runs` }
      : { name: 'zero errors in every Switchyard run', pass: null, detail: 'no Switchyard run' },
  );
  return checks;
}

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { STRATEGY_NAMES } from '../../balancer/strategies/index.js';
import { ConfigError, loadOptions, option, renderHelp } from '../../common/config/options.js';
import { boolean, listOf, oneOf, text } from '../../common/config/values.js';
import { renderShares, type ChartMark } from '../load/share-chart-svg.js';
import type { RequestRecord } from './chaos-load.js';
import type { RunReport } from './chaos-report.js';
import { runScenario, type ChaosRun } from './chaos-runner.js';
import type { ChaosTarget } from './chaos-target.js';
import { ComposeTarget } from './compose-target.js';
import { DemoTarget } from './demo-target.js';
import { parseScenario, ScenarioError, type Scenario } from './scenario.js';

export const CHAOS_OPTIONS = {
  json: option({ type: boolean(), flag: 'json', default: false, help: 'Print the report as JSON (docs/chaos.md) instead of the table.' }),
  chart: option({
    type: text({ min: 1 }),
    flag: 'chart',
    help: "Write an SVG of each backend's share of the traffic over time, the faults marked (one run: this file; more: a file per strategy beside it).",
  }),
  logs: option({
    type: text({ min: 1 }),
    flag: 'logs',
    help: "Keep every program's output in this directory, a file each, with the balancer's access log and the backends' request log on (the record to check the report against).",
  }),
  stackDir: option({
    type: text({ min: 1 }),
    flag: 'stack-dir',
    help: "target: compose: the directory `make up` ran in (its .env and .secrets/ hold the stack's credentials; default: the current one).",
  }),
  strategies: option({
    type: listOf(oneOf(STRATEGY_NAMES), 'strategy names'),
    flag: 'strategies',
    help: "Run over these strategies instead of the scenario's (comma-separated).",
  }),
} as const;

export function chaosHelp(): string {
  return renderHelp(CHAOS_OPTIONS, {
    usage: 'switchyard chaos <scenario.yaml> [options]',
    summary:
      'Replay a failure story under load, on the local demo (backends and a balancer as processes of ours) or on the running Compose stack (make up; run from its directory): kill, stop, pause, restart, fault, flap or scale backends, stop Redis, restart the controller, at set times; then report per step the requests sent and lost, p50/p99 and how fast the balancer converged. Exits 1 when a bound of the scenario is broken.',
    footer: 'Example: switchyard chaos scenarios/demo-quick.yaml --chart run.svg   (the language: docs/chaos.md)',
  });
}

/** `switchyard chaos`: 0 when every bound held, 1 when one broke, 2 on a bad scenario or option. */
export async function runChaos(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals, help } = loadOptions(CHAOS_OPTIONS, { argv, env }, { maxPositionals: 1 });
  if (help) {
    process.stdout.write(chaosHelp());
    return 0;
  }
  const file = positionals[0];
  if (file === undefined) throw new ConfigError('missing the scenario file, e.g. switchyard chaos scenarios/demo-quick.yaml');
  let scenario: Scenario;
  try {
    scenario = parseScenario(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if (err instanceof ScenarioError || (err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError((err as Error).message);
    throw err;
  }
  const strategies = values.strategies ?? scenario.strategies;
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const target: ChaosTarget =
    scenario.target === 'compose'
      ? new ComposeTarget(scenario, { env, dir: values.stackDir ?? process.cwd() })
      : new DemoTarget(scenario, { env, logDir: values.logs });
  if (values.logs && scenario.target === 'compose') log("chaos: --logs keeps the local demo's output; on Compose, read the stack's with make logs");
  const runs: ChaosRun[] = [];
  for (const strategy of strategies) {
    log(
      `chaos: ${scenario.name} over ${strategy}: ${scenario.backends} backends, ${scenario.load.connections} connections${scenario.load.rate ? ` at ${scenario.load.rate} req/s` : ''} for ${scenario.load.duration / 1000} s`,
    );
    runs.push(
      await runScenario(scenario, strategy, target, {
        onStep: (_s, st) => log(`  ${(st.atMs / 1000).toFixed(1).padStart(6)} s  ${st.action} ${st.target}`),
        onStepError: (_s, st, err) => log(`  ${(st.atMs / 1000).toFixed(1).padStart(6)} s  ${st.action} ${st.target} FAILED: ${err.message}`),
        onProgress: (p) => log(`  ${(p.elapsedMs / 1000).toFixed(0).padStart(4)} s  sent ${p.sent}, lost ${p.lost}`),
      }),
    );
  }
  const reports = runs.map((r) => r.report);
  const ok = reports.every((r) => r.ok);
  if (values.chart) {
    for (const [i, run] of runs.entries()) {
      const path = runs.length === 1 ? values.chart : values.chart.replace(/(\.svg)?$/, `-${strategies[i]}.svg`);
      await writeFile(path, chart(scenario, run));
      log(`chart: ${path}`);
    }
  }
  if (values.json) {
    const doc = {
      scenario: scenario.name,
      ok,
      lost: reports.reduce((n, r) => n + r.lost, 0),
      lostIdempotent: reports.reduce((n, r) => n + r.lostIdempotent, 0),
      steps: reports.flatMap((r) => r.steps),
      runs: reports,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else process.stdout.write(reports.map((r) => renderTable(scenario, r)).join('\n'));
  return ok ? 0 : 1;
}

const cell = (v: number | null, unit = ''): string => (v === null ? '-' : `${v}${unit}`);

/** The end-of-run table for the terminal. */
export function renderTable(scenario: Scenario, r: RunReport): string {
  const rows: string[][] = [['at', 'action', 'target', 'sent', 'lost (GET/POST)', 'p50', 'p99', 'converged', 'bound']];
  for (const s of r.steps) {
    rows.push([
      `${(s.at / 1000).toFixed(1)} s`,
      s.action,
      s.target,
      String(s.sent),
      `${s.lost} (${s.lostIdempotent}/${s.lostNonIdempotent})`,
      cell(s.p50Ms, ' ms'),
      cell(s.p99Ms, ' ms'),
      s.error !== undefined
        ? 'not done'
        : s.converges === null
          ? 'n/a'
          : s.convergedMs === null
            ? 'never'
            : `${s.convergedMs} ms ${s.converges === 'removed' ? 'out' : 'back'}`,
      cell(s.convergeBoundMs, ' ms'),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((v, c) => (c >= 3 ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  '));
  const lostBy = Object.entries(r.lostBy)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return [
    '',
    `${scenario.name} over ${r.strategy}: ${r.ok ? 'OK' : 'FAILED'}`,
    `  sent ${r.sent}, lost ${r.lost} (idempotent ${r.lostIdempotent}, not idempotent ${r.lostNonIdempotent})${lostBy ? `: ${lostBy}` : ''}; p50 ${cell(r.p50Ms, ' ms')}, p99 ${cell(r.p99Ms, ' ms')}`,
    '',
    ...lines.map((l) => `  ${l}`),
    '',
    `  after the run: ${r.registry.map((x) => `${x.id} ${x.routable ? 'routable' : 'out'}${x.serving ? '' : ' (not serving)'}`).join(', ')}`,
    ...r.broken.map((b) => `  broken: ${b}`),
    '',
  ].join('\n');
}

const INTERVAL_MS = 500;

/** Each backend's share of the answered requests per half second, the steps marked. */
function chart(scenario: Scenario, run: ChaosRun): string {
  const n = Math.max(1, Math.ceil(run.durationMs / INTERVAL_MS));
  const points = Array.from({ length: n }, (_, i) => ({ startMs: i * INTERVAL_MS, total: 0, byBackend: {} as Record<string, number> }));
  const counts = new Map<string, number>();
  let answered = 0;
  for (const r of run.records as readonly RequestRecord[]) {
    if (!r.ok || r.backend === undefined) continue;
    const p = points[Math.min(n - 1, Math.floor(r.doneMs / INTERVAL_MS))]!;
    p.total++;
    p.byBackend[r.backend] = (p.byBackend[r.backend] ?? 0) + 1;
    counts.set(r.backend, (counts.get(r.backend) ?? 0) + 1);
    answered++;
  }
  const backends = [...counts.keys()].sort().map((id) => ({ id, count: counts.get(id)!, share: counts.get(id)! / Math.max(1, answered) }));
  const marks: ChartMark[] = run.steps.map((s) => ({ atMs: s.atMs, label: `${s.action} ${s.target}` }));
  const r = run.report;
  const subtitle = `${scenario.name} · ${r.strategy} · ${r.sent} sent, ${r.lost} lost · ${INTERVAL_MS} ms intervals`;
  return renderShares({ subtitle, timeline: { intervalMs: INTERVAL_MS, points }, backends }, { marks });
}

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LoadReportSchema } from '../../cli/load/report.js';
import { get } from '../helpers/http.js';
import { sumMetric } from '../helpers/metrics-text.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT, runSwitchyard } from '../helpers/processes.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';

const OUT = `${REPO_ROOT}/tests/output/load-tool`;
const BAR_ROW = /^ {2}(\S+) {2}[█▏▎▍▌▋▊▉ ]+ {2}([\d,]+) {2}\s*[\d.]+%$/;
const PROGRESS = /\d+%  [\d,]+ done  [\d,]+ req\/s/;

/** Per-backend rows of the terminal bar chart: id -> count. */
function chartRows(stdout: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = BAR_ROW.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]!.replaceAll(',', '')));
  }
  return rows;
}

/** Runs a command on a pseudo-terminal (util-linux `script`), returning what the terminal showed. */
function runOnTty(args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, '--import', 'tsx', 'cli/switchyard.ts', ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const proc = spawn('script', ['-q', '-e', '-c', quoted, '/dev/null'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`script ${quoted} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('switchyard load against a real balancer and 3 backends', () => {
  const backends: TestBackend[] = [];
  let lb: TestBalancer;

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    for (const id of ['backend-1', 'backend-2', 'backend-3']) backends.push(await TestBackend.start(id));
    lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()) });
    await lb.routable(3);
  });

  after(async () => {
    await lb?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('--requests 5000 prints a summary and a per-backend chart whose counts sum to 5000, without a progress bar off a terminal', async (t) => {
    const r = await runSwitchyard(['load', lb.url, '--requests', '5000', '--connections', '16'], {}, 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Requests {3}5,000 completed in /);
    assert.match(r.stdout, /Latency {4}p50 [\d.]+ m?s {3}p90 [\d.]+ m?s {3}p99 [\d.]+ m?s {3}max /);
    assert.match(r.stdout, /Status {5}200 × 5,000/);
    assert.match(r.stdout, /Errors {5}none/);
    const rows = chartRows(r.stdout);
    assert.deepEqual([...rows.keys()].sort(), ['backend-1', 'backend-2', 'backend-3']);
    assert.equal(
      [...rows.values()].reduce((a, b) => a + b, 0),
      5000,
    );
    for (const n of rows.values()) assert.ok(Math.abs(n - 5000 / 3) <= 2, `round robin spreads evenly: ${[...rows.values()].join('/')}`);
    assert.ok(!PROGRESS.test(r.stdout + r.stderr) && !(r.stdout + r.stderr).includes('\r'), 'no progress bar when not on a terminal');
    t.diagnostic(r.stdout);
  });

  it('--json prints one document that validates against the documented shape; --chart writes the SVG', async () => {
    const chart = `${OUT}/share.svg`;
    const r = await runSwitchyard(
      ['load', lb.url, '--requests', '3000', '--connections', '8', '--json', '--chart', chart, '--header', 'X-Load-Test: 1'],
      {},
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const report = LoadReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.requests.completed, 3000);
    assert.deepEqual(report.limit, { kind: 'requests', requests: 3000, timeLimitMs: 300_000 });
    assert.equal(
      report.backends.reduce((s, b) => s + b.count, 0),
      3000,
    );
    assert.deepEqual(
      report.backends.map((b) => b.id),
      ['backend-1', 'backend-2', 'backend-3'],
    );
    assert.equal(
      report.timeline.points.reduce((s, p) => s + p.total, 0),
      3000,
    );
    assert.deepEqual(report.statusCodes, { '200': 3000 });
    assert.ok(report.latencyMs.p50 > 0 && report.latencyMs.p50 <= report.latencyMs.p99 && report.latencyMs.p99 <= report.latencyMs.max);
    assert.ok(existsSync(chart));
    const svg = readFileSync(chart, 'utf8');
    assert.ok(svg.startsWith('<svg') && svg.includes('backend-3'));
  });

  it("after a run, the balancer's per-backend counters in /metrics sum to the requests the load tool sent", async () => {
    const counters = async (): Promise<Map<string, number>> => {
      const text = (await get(`${lb.adminUrl}/metrics`)).body;
      return new Map(
        ['backend-1', 'backend-2', 'backend-3'].map((id) => [id, sumMetric(text, 'switchyard_backend_responses_total', (l) => l.includes(`backend="${id}"`))]),
      );
    };
    const before = await counters();
    const r = await runSwitchyard(['load', lb.url, '--requests', '5000', '--connections', '16', '--json'], {}, 60_000);
    assert.equal(r.code, 0, r.stderr);
    const report = LoadReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.requests.completed, 5000);
    const after = await counters();
    let total = 0;
    for (const b of report.backends) {
      const delta = after.get(b.id)! - before.get(b.id)!;
      assert.equal(delta, b.count, `${b.id}: /metrics counted ${delta}, the load tool saw ${b.count}`);
      total += delta;
    }
    assert.equal(total, 5000);
  });

  it('--requests 5000 on a terminal (a pty) shows the progress bar, then the summary and a chart summing to 5000', async (t) => {
    const r = await runOnTty(['load', lb.url, '--requests', '5000', '--connections', '8']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, PROGRESS);
    assert.ok(r.output.includes('\r\x1b[2K'), 'the bar redraws in place');
    assert.match(r.output, /Per backend \(X-Backend response header\)/);
    assert.match(r.output, /Requests {3}5,000 completed in /);
    const rows = chartRows(r.output.replaceAll('\r', '\n'));
    assert.equal(
      [...rows.values()].reduce((a, b) => a + b, 0),
      5000,
      'the chart counts sum to 5000',
    );
    t.diagnostic(`terminal output: ${JSON.stringify(r.output.slice(0, 300))}...`);
  });

  it('stays bounded in time by default and fails clearly when nothing listens', async () => {
    const r = await runSwitchyard(['load', lb.url, '--duration', '500ms', '--json'], {}, 30_000);
    assert.equal(r.code, 0, r.stderr);
    const report = LoadReportSchema.parse(JSON.parse(r.stdout));
    assert.ok(report.durationMs >= 500 && report.durationMs < 3000, `ran ${report.durationMs} ms`);
    const dead = await runSwitchyard(['load', `http://127.0.0.1:${await freePort()}`, '--requests', '10']);
    assert.equal(dead.code, 1);
    assert.match(dead.stderr, /cannot connect to .*ECONNREFUSED/);
  });
});

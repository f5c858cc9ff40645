import { ChaosLoad, type RequestRecord } from './chaos-load.js';
import { buildRunReport, converges, type RegistryCheck, type RunReport, type SeenEvent, type StepRun } from './chaos-report.js';
import { failsBackend, type ChaosTarget } from './chaos-target.js';
import { isService, type Scenario, type Step } from './scenario.js';

export interface ChaosRunOptions {
  /** Progress while a run goes on. */
  readonly onProgress?: (p: { strategy: string; elapsedMs: number; sent: number; lost: number }) => void;
  /** A step ran (for the terminal). */
  readonly onStep?: (strategy: string, s: StepRun) => void;
  /** A step could not be carried out (it is reported, the run goes on). */
  readonly onStepError?: (strategy: string, s: StepRun, err: Error) => void;
}

/** One run of a scenario over one strategy, with what it measured. */
export interface ChaosRun {
  readonly report: RunReport;
  readonly records: readonly RequestRecord[];
  readonly steps: readonly StepRun[];
  readonly durationMs: number;
}

const STATS_POLL_MS = 250;

/**
 * Runs `scenario` once over `strategy` on `target`: makes it ready (every
 * backend routable), runs the load and the steps at their offsets, announces
 * each fault to the balancer's event log (POST /events, under the admin API's
 * authentication), follows the balancer's events, then compares the
 * balancer's view with the backends and lets the target go.
 */
export async function runScenario(scenario: Scenario, strategy: string, target: ChaosTarget, o: ChaosRunOptions = {}): Promise<ChaosRun> {
  try {
    await target.start(strategy);
    const load = new ChaosLoad({
      url: target.proxyUrl,
      connections: scenario.load.connections,
      rate: scenario.load.rate,
      durationMs: scenario.load.duration,
      post: scenario.load.post,
      timeoutMs: scenario.load.timeout,
      idPrefix: `chaos-${strategy}-${Date.now().toString(36)}`,
    });
    const events = new Map<number, SeenEvent>();
    const ran: StepRun[] = [];
    const timers: NodeJS.Timeout[] = [];
    const pending: Promise<unknown>[] = [];
    const later = (ms: number, fn: () => Promise<void>): void => void timers.push(setTimeout(() => void pending.push(fn().catch(() => undefined)), ms));
    const wallStart = Date.now();
    const done = load.run();
    let replicas = scenario.backends;
    for (const step of scenario.steps) {
      const up = step.action === 'scale' ? step.replicas! >= replicas : true;
      if (step.action === 'scale') replicas = step.replicas!;
      timers.push(
        setTimeout(() => {
          const atMs = load.now();
          const run: StepRun = {
            atMs,
            faultAtMs: atMs,
            faultAtById: new Map(),
            action: step.action,
            target: step.target,
            targets: [],
            // A service (Redis, the controller) is no backend: the balancer's view of it is not measured.
            converges: isService(step.target) ? null : converges(step.action, up, step.fault !== undefined && failsBackend(step.fault)),
            convergeBoundMs: step.converge,
            bounds: step.bounds,
          };
          ran.push(run);
          o.onStep?.(strategy, run);
          pending.push(
            target.act(step, later).then(
              (acted) => {
                run.targets = acted.ids;
                const at = [...(acted.effectiveAt ?? new Map<string, number>())].map(([id, ms]) => [id, ms - wallStart] as const);
                if (at.length > 0) {
                  run.faultAtById = new Map(at);
                  run.faultAtMs = Math.min(...at.map(([, ms]) => ms));
                }
                return announce(target, step);
              },
              (err: Error) => {
                run.error = err.message;
                o.onStepError?.(strategy, run, err);
              },
            ),
          );
        }, step.at),
      );
    }
    const poll = setInterval(() => void pollEvents(target, wallStart, events), STATS_POLL_MS);
    const progress = setInterval(() => {
      const r = load.records;
      o.onProgress?.({ strategy, elapsedMs: load.now(), sent: r.length, lost: r.filter((x) => x.doneMs > 0 && !x.ok).length });
    }, 1000);
    await done;
    const endMs = load.now();
    for (const t of timers) clearTimeout(t);
    clearInterval(progress);
    await Promise.allSettled(pending);
    await pollEvents(target, wallStart, events);
    clearInterval(poll);
    await load.close();
    const registry = await compareRegistry(target);
    const seen = [...events.values()].sort((a, b) => a.atMs - b.atMs);
    const report = buildRunReport(scenario, strategy, ran, load.records, seen, registry, endMs);
    return { report, records: load.records, steps: ran, durationMs: endMs };
  } finally {
    await target.close();
  }
}

/** Tells the balancer's event log (and so the dashboard) about the fault, marked injected. */
async function announce(target: ChaosTarget, step: Step): Promise<void> {
  const detail = step.fault
    ? JSON.stringify(step.fault)
    : step.every !== undefined
      ? `every ${step.every} ms, ${step.times ?? 4} times`
      : step.replicas !== undefined
        ? `to ${step.replicas} replicas`
        : undefined;
  await fetch(`${target.adminUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.adminAuth },
    body: JSON.stringify({ action: step.action, target: step.target, ...(detail ? { detail } : {}) }),
  }).catch(() => undefined);
}

async function pollEvents(target: ChaosTarget, wallStart: number, into: Map<number, SeenEvent>): Promise<void> {
  try {
    const r = await fetch(`${target.adminUrl}/stats`, { headers: target.adminAuth });
    if (!r.ok) return;
    const s = (await r.json()) as { events?: { seq: number; at: string; type: string; backendId?: string; detail?: string }[] };
    for (const e of s.events ?? [])
      if (!into.has(e.seq)) into.set(e.seq, { atMs: Date.parse(e.at) - wallStart, type: e.type, backendId: e.backendId, detail: e.detail });
  } catch {
    // the next poll tries again
  }
}

/** After the run: whether the balancer routes to each backend, against whether it serves (a registered one that is gone does not). */
async function compareRegistry(target: ChaosTarget): Promise<RegistryCheck[]> {
  const r = await fetch(`${target.adminUrl}/backends`, { headers: target.adminAuth });
  const body = (await r.json()) as { backends: { id: string; routable?: boolean }[] };
  const serving = new Map((await target.serving()).map((s) => [s.id, s.serving]));
  const ids = [...new Set([...serving.keys(), ...body.backends.map((b) => b.id)])].sort();
  return ids.map((id) => ({ id, routable: body.backends.find((b) => b.id === id)?.routable === true, serving: serving.get(id) ?? false }));
}

import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { STRATEGY_NAMES } from '../../balancer/strategies/index.js';
import { parseDuration } from '../../common/config/values.js';

/**
 * A chaos scenario: a failure story as a timeline of steps at offsets under a
 * bounded load, with the bounds the run must meet. Written in YAML or JSON
 * (docs/chaos.md); validated here, every error naming its line.
 */

const duration = z.union([z.string(), z.number().int().min(0)]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `'${v}' is not a duration (e.g. 500ms, 2s, 1m)` });
    return z.NEVER;
  }
  return ms;
});

/** The demo backend's fault API (POST /fault on its control port), as a step sets it. */
const FaultSchema = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000),
    errorRate: z.number().min(0).max(1),
    errorStatus: z.number().int().min(400).max(599),
    unhealthy: z.boolean(),
    hang: z.boolean(),
  })
  .partial()
  .strict();

export const DEMO_ACTIONS = ['kill', 'stop', 'pause', 'unpause', 'start', 'fault', 'clear-fault', 'flap'] as const;
export type Action = (typeof DEMO_ACTIONS)[number];

const StepSchema = z
  .object({
    at: duration.describe('Offset from the start of the load.'),
    action: z.enum(DEMO_ACTIONS),
    target: z.string().regex(/^backend-[1-9][0-9]*$/, 'a demo backend: backend-1, backend-2, ...'),
    fault: FaultSchema.optional().describe('For action fault: what to set.'),
    every: duration.optional().describe('For action flap: unhealthy, then healthy, switching this often.'),
    times: z.number().int().min(1).max(100).optional().describe('For action flap: how many switches (default 4).'),
    converge: duration.optional().describe('Bound on the convergence time of this step.'),
    note: z.string().max(200).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.action === 'fault' && s.fault === undefined)
      ctx.addIssue({ code: 'custom', path: ['fault'], message: 'action fault needs a fault: { latencyMs, errorRate, unhealthy, hang }' });
    if (s.action !== 'fault' && s.fault !== undefined)
      ctx.addIssue({ code: 'custom', path: ['fault'], message: `only action fault takes a fault (this is ${s.action})` });
    if (s.action === 'flap' && s.every === undefined)
      ctx.addIssue({ code: 'custom', path: ['every'], message: 'action flap needs every: how often to switch' });
    if (s.action !== 'flap' && (s.every !== undefined || s.times !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: [s.every !== undefined ? 'every' : 'times'],
        message: `only action flap takes every and times (this is ${s.action})`,
      });
  });

export const ScenarioSchema = z
  .object({
    name: z.string().min(1).max(100),
    description: z.string().max(2000).optional(),
    target: z.literal('demo').describe('Where the faults go: demo (local processes).'),
    backends: z.number().int().min(2).max(20).default(3),
    strategies: z.array(z.enum(STRATEGY_NAMES)).min(1).default(['round-robin']).describe('One run per strategy.'),
    balancerArgs: z
      .array(z.string())
      .default([])
      .describe('Extra flags for the balancer (switchyard balancer --help); a bad one fails the run at start, named by the balancer.'),
    load: z
      .object({
        connections: z.number().int().min(1).max(256).default(8),
        rate: z.number().int().min(1).max(20_000).optional().describe('Requests per second over all connections; as fast as answered when unset.'),
        duration,
        post: z.number().min(0).max(1).default(0.2).describe('Share of POST requests (not idempotent: never retried once sent); the rest GET.'),
        timeout: duration.default(10_000).describe('A request not answered in this long is lost (timeout).'),
      })
      .strict(),
    bounds: z
      .object({
        lostIdempotent: z.number().int().min(0).default(0),
        lostNonIdempotent: z.number().int().min(0).optional(),
        p99Ms: z.number().min(1).optional().describe('Bound on the p99 of every step.'),
      })
      .strict()
      .default({ lostIdempotent: 0 }),
    steps: z.array(StepSchema).min(1),
  })
  .strict()
  .superRefine((s, ctx) => {
    s.steps.forEach((step, i) => {
      if (i > 0 && step.at < s.steps[i - 1]!.at) ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: 'steps go in time order' });
      if (step.at >= s.load.duration)
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: `after the load ends (load.duration ${s.load.duration} ms)` });
      const n = Number(step.target.slice('backend-'.length));
      if (n > s.backends) ctx.addIssue({ code: 'custom', path: ['steps', i, 'target'], message: `there are ${s.backends} backends` });
    });
  });

export type Scenario = z.output<typeof ScenarioSchema>;
export type Step = Scenario['steps'][number];
export type FaultPatch = z.output<typeof FaultSchema>;

export class ScenarioError extends Error {}

/** Parses and validates a scenario file's text; a ScenarioError names the file, line and field. */
export function parseScenario(text: string, file: string): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ScenarioError(`${file}${line ? `:${line}` : ''}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const r = ScenarioSchema.safeParse(doc.toJS());
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const line = lineOf(doc.contents, path, lines);
  const where = path.length
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
        .join('')
        .replace(/^\./, '')
    : 'scenario';
  throw new ScenarioError(`${file}${line ? `:${line}` : ''}: ${where}: ${issue.message}`);
}

/** The line of the deepest node along `path` that exists (a missing field: its parent's line). */
function lineOf(root: unknown, path: readonly (string | number)[], lines: LineCounter): number | undefined {
  let node = root as YamlNode | null | undefined;
  let found = node;
  for (const key of path) {
    if (isMap(node)) node = node.get(key, true) as YamlNode | undefined;
    else if (isSeq(node) && typeof key === 'number') node = node.get(key, true) as YamlNode | undefined;
    else break;
    if (node === undefined || node === null) break;
    found = node;
  }
  const offset = found?.range?.[0];
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

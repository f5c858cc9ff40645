import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { FAULT_PATCH_SCHEMA } from '../../backend/faults.js';
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

/** What a step may do to a backend (`backend-N`), on either target. */
export const BACKEND_ACTIONS = ['kill', 'stop', 'pause', 'unpause', 'start', 'fault', 'clear-fault', 'flap'] as const;
export const ACTIONS = [...BACKEND_ACTIONS, 'scale', 'restart'] as const;
export type Action = (typeof ACTIONS)[number];
/** The Compose stack's other services a step may stop, start or restart (docker-api: the controller's Docker connection). */
export const SERVICES = ['redis', 'controller', 'docker-api'] as const;
export const isService = (target: string): boolean => (SERVICES as readonly string[]).includes(target);
const SERVICE_ACTIONS: readonly Action[] = ['stop', 'start', 'restart', 'kill'];

const StepSchema = z
  .object({
    at: duration.describe('Offset from the start of the load.'),
    action: z.enum(ACTIONS),
    target: z
      .string()
      .regex(
        /^(backend(-[1-9][0-9]*)?|redis|controller|docker-api)$/,
        'backend-N (a backend), backend (for scale), or on compose redis, controller, docker-api',
      ),
    replicas: z.number().int().min(0).max(50).optional().describe('For action scale: backends after the step.'),
    fault: FAULT_PATCH_SCHEMA.optional().describe("For action fault: what to set, as the demo backend's POST /fault takes it."),
    every: duration.optional().describe('For action flap: unhealthy, then healthy, switching this often.'),
    times: z.number().int().min(1).max(100).optional().describe('For action flap: how many switches (default 4).'),
    converge: duration.optional().describe('Bound on the convergence time of this step.'),
    bounds: z
      .object({
        lostIdempotent: z.number().int().min(0),
        lostNonIdempotent: z.number().int().min(0),
        p99Ms: z.number().min(1),
      })
      .partial()
      .strict()
      .optional()
      .describe("This step's own bounds, on the requests sent from it to the next step; what it bounds is taken out of the scenario's bounds."),
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
    if ((s.action === 'scale') !== (s.target === 'backend'))
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'scale goes with target backend (and replicas), and only scale does' });
    if (s.action === 'scale' && s.replicas === undefined)
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'action scale needs replicas: the backends after it' });
    if (s.action !== 'scale' && s.replicas !== undefined)
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: `only action scale takes replicas (this is ${s.action})` });
    const service = isService(s.target);
    if (service && !SERVICE_ACTIONS.includes(s.action))
      ctx.addIssue({ code: 'custom', path: ['action'], message: `${s.target} can be given: ${SERVICE_ACTIONS.join(', ')}` });
    if (s.target.startsWith('backend-') && !(BACKEND_ACTIONS as readonly string[]).includes(s.action))
      ctx.addIssue({ code: 'custom', path: ['action'], message: `a backend can be given: ${BACKEND_ACTIONS.join(', ')}` });
  });

export const ScenarioSchema = z
  .object({
    name: z.string().min(1).max(100),
    description: z.string().max(2000).optional(),
    target: z.enum(['demo', 'compose']).describe('Where the faults go: demo (local processes of ours) or compose (the running make up stack).'),
    backends: z.number().int().min(2).max(20).default(3).describe('Backends at the start of each run (compose: scaled to this).'),
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
    if (s.target === 'compose' && s.balancerArgs.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['balancerArgs'],
        message: "the Compose stack's balancer is configured in docker-compose.yml, not by the scenario (balancerArgs is for target: demo)",
      });
    let replicas = s.backends;
    s.steps.forEach((step, i) => {
      if (i > 0 && step.at < s.steps[i - 1]!.at) ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: 'steps go in time order' });
      if (step.at >= s.load.duration)
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: `after the load ends (load.duration ${s.load.duration} ms)` });
      if (s.target === 'demo' && !step.target.startsWith('backend-'))
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'target'],
          message: `the demo has backends only (${step.action} ${step.target} needs target: compose)`,
        });
      if (step.action === 'scale') replicas = step.replicas!;
      const n = step.target.startsWith('backend-') ? Number(step.target.slice('backend-'.length)) : 0;
      if (n > replicas) ctx.addIssue({ code: 'custom', path: ['steps', i, 'target'], message: `there are ${replicas} backends at this point` });
    });
  });

export type Scenario = z.output<typeof ScenarioSchema>;
export type Step = Scenario['steps'][number];
export type FaultPatch = z.output<typeof FAULT_PATCH_SCHEMA>;

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

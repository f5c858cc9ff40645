import type { RequestLimits } from '../../balancer/forward/request-limits.js';
import { RawBackend, RawClient, respond, type RawConn, type RawRequest, type RawResponse } from '../helpers/raw-http.js';
import { spec } from '../helpers/hostile.js';
import { SETUPS, TEST_SETTINGS, TestBalancer, type SetupName } from '../helpers/stack.js';
import { generate, type FuzzCase } from './generator.js';
import { check, disagreement, type Observation, type SeenRequest, type SeenResponse } from './invariants.js';

/**
 * Runs fuzz cases against a balancer of each engine, in process, in front of
 * one recording backend per engine, and checks the invariants
 * (./invariants.ts) on every case and engine, and that the engines agree on
 * what they forward.
 */

const noHealth = { enabled: false, path: '/health', intervalMs: 1000, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 };
/** Short client timeouts: a case whose request never completes costs a fraction of a second. */
const FUZZ_LIMITS: Partial<RequestLimits> = { maxBodySize: 1024 * 1024, clientBodyTimeoutMs: 300, clientSendTimeoutMs: 2000 };
const READ_TIMEOUT_MS = 2500;

export interface FuzzTarget {
  readonly engine: SetupName;
  readonly lb: TestBalancer;
  readonly backend: RawBackend;
  /** The scripted answer of each response case, by path. */
  readonly answers: Map<string, { bytes: Buffer; closeAfter: boolean }>;
}

export interface Violation {
  readonly seed: number;
  readonly n: number;
  readonly engine: string;
  readonly rule: string;
  readonly mutations: readonly string[];
  readonly bytes: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly from: number;
  readonly cases: number;
  readonly engines: readonly string[];
  readonly ms: number;
  readonly violations: readonly Violation[];
}

function backendHandler(answers: FuzzTarget['answers']): (req: RawRequest, c: RawConn) => void {
  return (req, c) => {
    const path = req.target.split('?')[0]!;
    const scripted = answers.get(path);
    if (scripted !== undefined) {
      c.write(scripted.bytes);
      if (scripted.closeAfter) c.socket.end();
      return;
    }
    respond(c, 200, JSON.stringify({ target: req.target }), [['content-type', 'application/json']]);
  };
}

export async function startTargets(engines: readonly SetupName[]): Promise<FuzzTarget[]> {
  const out: FuzzTarget[] = [];
  for (const engine of engines) {
    const answers = new Map<string, { bytes: Buffer; closeAfter: boolean }>();
    const backend = await RawBackend.start(backendHandler(answers));
    const lb = await TestBalancer.start({
      backends: [spec('b1', backend.url)],
      settings: {
        ...SETUPS[engine],
        health: noHealth,
        limits: FUZZ_LIMITS,
        pool: { ...TEST_SETTINGS.pool, headersTimeoutMs: 1500 },
        // One failed attempt must be seen as such, not hidden by a retry on the same lone backend.
        maxRetries: 0,
      },
    });
    await lb.routable(1);
    out.push({ engine, lb, backend, answers });
  }
  return out;
}

export async function closeTargets(targets: readonly FuzzTarget[]): Promise<void> {
  for (const t of targets) {
    await t.lb.close();
    await t.backend.close();
  }
}

const toSeen = (q: RawRequest): SeenRequest => ({ method: q.method, target: q.target, headers: q.headers, body: q.body, chunked: q.chunked });
const toResponse = (r: RawResponse): SeenResponse => ({ status: r.status, headers: r.headers, body: r.body, trailers: r.trailers });

async function answerTarget(c: RawClient): Promise<string | null> {
  try {
    for (let i = 0; i < 20; i++) {
      const r = await c.response({ timeoutMs: READ_TIMEOUT_MS });
      if (r.status < 200) continue;
      if (r.status !== 200) return `status ${r.status}`;
      return (JSON.parse(r.body.toString()) as { target: string }).target;
    }
  } catch {
    // no (complete) answer
  }
  return null;
}

async function waitIdle(t: FuzzTarget): Promise<void> {
  const deadline = Date.now() + 3000;
  while (t.lb.lb.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 10));
}

/** Runs one case on one engine and observes what the client, the backend and the balancer did. */
export async function runCase(t: FuzzTarget, c: FuzzCase, crashes: string[]): Promise<Observation> {
  const crashesBefore = crashes.length;
  const before = t.backend.requests.length;
  const blamedBefore = t.lb.lb.upstreams.get('b1')?.failures ?? 0;
  if (c.kind === 'response') t.answers.set(c.path, { bytes: c.response, closeAfter: c.closeAfter });
  const client = await RawClient.connect(t.lb.port);
  client.send(c.bytes);
  const responses: SeenResponse[] = [];
  let cut = false;
  let finals = c.kind === 'request' && c.pipelined !== null ? 2 : 1;
  try {
    for (let i = 0; i < 50 && finals > 0; i++) {
      const r = await client.response({ timeoutMs: READ_TIMEOUT_MS, noBody: c.kind === 'response' && c.head });
      responses.push(toResponse(r));
      if (r.status >= 200) finals--;
    }
  } catch {
    cut = true;
  }
  // The same connection, if it stayed open: the next request must get its own answer.
  let followUp: string | null = null;
  let followUpExpected: string | null = null;
  const final = responses.find((r) => r.status >= 200);
  const closing = final !== undefined && /close/i.test(final.headers.find(([n]) => n.toLowerCase() === 'connection')?.[1] ?? '');
  // After a request whose framing was mutated, where the next request starts is anyone's guess: no follow-up.
  const boundaryKnown = c.kind === 'response' || c.body !== null;
  if (boundaryKnown && !cut && final !== undefined && !closing && !client.socket.destroyed) {
    followUpExpected = `/follow-${c.n}`;
    client.send(`GET ${followUpExpected} HTTP/1.1\r\nHost: t\r\n\r\n`);
    followUp = await answerTarget(client);
    if (followUp === null) followUpExpected = null; // the balancer may close a connection it no longer trusts
  }
  client.destroy();
  await waitIdle(t);
  const backend = t.backend.requests
    .slice(before)
    .filter((q) => !q.target.startsWith('/follow-'))
    .map(toSeen);
  // Another client, on its own connection, right after: it must get its own answer.
  const victimExpected = `/victim-${c.n}`;
  const v = await RawClient.connect(t.lb.port);
  v.send(`GET ${victimExpected} HTTP/1.1\r\nHost: t\r\n\r\n`);
  const victim = await answerTarget(v);
  v.destroy();
  await waitIdle(t);
  t.answers.delete(c.path);
  const blamed = (t.lb.lb.upstreams.get('b1')?.failures ?? 0) - blamedBefore;
  return { responses, cut, backend, blamed, victim, victimExpected, followUp, followUpExpected, crashes: crashes.slice(crashesBefore) };
}

/**
 * Cases `from` .. `from + cases - 1` of `seed` on every target; returns the
 * violations. `onProgress` hears of each case (for long runs).
 */
export async function fuzz(
  targets: readonly FuzzTarget[],
  opts: { seed: number; from: number; cases: number; onProgress?: (n: number, found: number) => void },
): Promise<FuzzReport> {
  const started = Date.now();
  const crashes: string[] = [];
  const onCrash = (err: unknown): void =>
    void crashes.push(
      String((err as Error)?.stack ?? err)
        .split('\n')
        .slice(0, 3)
        .join(' | '),
    );
  process.on('uncaughtException', onCrash);
  const violations: Violation[] = [];
  try {
    for (let n = opts.from; n < opts.from + opts.cases; n++) {
      const byEngine = new Map<string, Observation>();
      let c: FuzzCase | undefined;
      for (const t of targets) {
        c = generate(opts.seed, n, t.lb.lb.limits?.via);
        const o = await runCase(t, c, crashes);
        byEngine.set(t.engine, o);
        for (const rule of check(c, o))
          violations.push({ seed: opts.seed, n, engine: t.engine, rule, mutations: c.mutations, bytes: c.bytes.toString('latin1').slice(0, 400) });
      }
      if (c !== undefined && c.kind === 'request' && targets.length > 1) {
        const d = disagreement(c, byEngine);
        if (d !== undefined)
          violations.push({ seed: opts.seed, n, engine: 'all', rule: d, mutations: c.mutations, bytes: c.bytes.toString('latin1').slice(0, 400) });
      }
      opts.onProgress?.(n, violations.length);
    }
  } finally {
    process.off('uncaughtException', onCrash);
  }
  return { seed: opts.seed, from: opts.from, cases: opts.cases, engines: targets.map((t) => t.engine), ms: Date.now() - started, violations };
}

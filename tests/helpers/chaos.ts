import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { RunReport, StepReport } from '../../cli/chaos/chaos-report.js';

/** What `switchyard chaos --json` prints (docs/chaos.md). */
export interface ChaosDoc {
  readonly ok: boolean;
  readonly lost: number;
  readonly lostIdempotent: number;
  readonly steps: readonly StepReport[];
  readonly runs: readonly RunReport[];
}

/** The JSON document in a chaos run's output (stdout alone, or mixed with its progress lines on stderr). */
export function chaosDoc(output: string): ChaosDoc {
  return JSON.parse(output.slice(output.indexOf('{\n'), output.lastIndexOf('\n}') + 2)) as ChaosDoc;
}

/** Each step's figures and the totals, as test diagnostics. */
export function describeChaos(t: TestContext, doc: ChaosDoc): void {
  for (const s of doc.steps)
    t.diagnostic(
      `${(s.at / 1000).toFixed(1)} s ${s.action} ${s.target}: sent ${s.sent}, lost ${s.lost} (GET ${s.lostIdempotent}), p99 ${s.p99Ms} ms, converged ${s.convergedMs ?? '-'} ms (bound ${s.convergeBoundMs ?? '-'})${s.error === undefined ? '' : `, FAILED: ${s.error}`}`,
    );
  for (const r of doc.runs)
    t.diagnostic(
      `${r.strategy}: sent ${r.sent}, lost ${r.lost} (idempotent ${r.lostIdempotent}) ${JSON.stringify(r.lostBy)}; broken: ${r.broken.join('; ') || 'none'}`,
    );
}

/** No idempotent request lost, and every convergence bound a step states met. */
export function assertChaosHeld(doc: ChaosDoc): void {
  assert.equal(doc.lostIdempotent, 0);
  for (const s of doc.steps) {
    assert.equal(s.error, undefined, `${s.action} ${s.target} could not be carried out: ${s.error}`);
    if (s.convergeBoundMs !== null) assert.ok(s.convergedMs !== null && s.convergedMs <= s.convergeBoundMs, `${s.action} ${s.target}: ${s.convergedMs} ms`);
  }
  assert.equal(doc.ok, true, doc.runs.flatMap((r) => r.broken).join('; '));
}

import { z } from 'zod';

/**
 * Failure injection for the demo backend. Set at start from flags or env,
 * changed at run time with POST /fault and cleared with DELETE /fault, both
 * on the control listener only (control-app.ts), never on the traffic port.
 */
export interface Faults {
  /** Added to every response on the traffic port except /health. */
  readonly latencyMs: number;
  /** Share of requests answered with `errorStatus`, 0 to 1. */
  readonly errorRate: number;
  readonly errorStatus: number;
  /** /health answers 503 while the rest keeps serving. */
  readonly unhealthy: boolean;
  /** Every request on the traffic port is accepted and never answered, /health included. */
  readonly hang: boolean;
}

export const NO_FAULTS: Faults = Object.freeze({ latencyMs: 0, errorRate: 0, errorStatus: 500, unhealthy: false, hang: false });

/** A change to the faults, as POST /fault takes it (a scenario's fault step is validated with it too). */
export const FAULT_PATCH_SCHEMA = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000),
    errorRate: z.number().min(0).max(1),
    errorStatus: z.number().int().min(400).max(599),
    unhealthy: z.boolean(),
    hang: z.boolean(),
  })
  .partial()
  .strict();

/** Applies a JSON patch to the current faults; an error message names the bad field. */
export function patchFaults(current: Faults, body: unknown): { ok: true; faults: Faults } | { ok: false; reason: string } {
  const r = FAULT_PATCH_SCHEMA.safeParse(body ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, reason: `${issue.path.join('.') || 'body'}: ${issue.message}` };
  }
  return { ok: true, faults: Object.freeze({ ...current, ...r.data }) };
}

/** Whether this request should fail, given a random draw in [0, 1). */
export function shouldFail(f: Faults, draw: number): boolean {
  return f.errorRate > 0 && draw < f.errorRate;
}

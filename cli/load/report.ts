import { z } from 'zod';

/**
 * The document `switchyard load --json` prints: one JSON object, this shape,
 * version 1. docs/load-tool.md shows it as JSON Schema (generated from this
 * zod schema, kept in step by tests/unit/load-docs.test.ts).
 */
const count = z.number().int().min(0);
const ms = z.number().min(0);

export const LatencySchema = z
  .object({
    min: ms,
    mean: ms,
    stddev: ms,
    p50: ms,
    p90: ms,
    p99: ms,
    p999: ms,
    max: ms,
  })
  .describe('Latency of completed responses in milliseconds (microsecond resolution, from an HDR histogram).');

export const BackendShareSchema = z.object({
  id: z.string().describe('Value of the X-Backend response header; "(none)" when a response had none.'),
  count: count.describe('Completed responses from this backend.'),
  share: z.number().min(0).max(1).describe('count / completed responses.'),
});

export const TimelinePointSchema = z.object({
  startMs: ms.describe('Start of the interval, from the start of the run.'),
  total: count.describe('Responses completed in the interval.'),
  byBackend: z.record(z.string(), count).describe('Responses in the interval per backend id.'),
});

export const LoadReportSchema = z
  .object({
    tool: z.literal('switchyard-load'),
    version: z.literal(1),
    url: z.string(),
    method: z.string(),
    connections: z.number().int().min(1),
    rate: z.number().int().min(1).nullable().describe('Target total requests per second, or null for as fast as possible.'),
    limit: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('duration'), durationMs: z.number().int().min(1) }),
      z.object({ kind: z.literal('requests'), requests: z.number().int().min(1), timeLimitMs: z.number().int().min(1) }),
    ]),
    startedAt: z.string().describe('ISO 8601 time the run started.'),
    durationMs: ms.describe('Wall time of the run.'),
    requests: z.object({
      sent: count,
      completed: count.describe('Responses received in full, whatever their status.'),
      perSecond: z.number().min(0).describe('completed / duration.'),
    }),
    latencyMs: LatencySchema,
    statusCodes: z.record(z.string().regex(/^\d{3}$/), count).describe('Completed responses by HTTP status.'),
    errors: z.object({
      total: count.describe('Requests that got no complete response: timeouts plus connection errors.'),
      timeouts: count,
      connection: count.describe('Connection errors (refused, reset).'),
      non2xx: count.describe('Completed responses whose status is not 2xx.'),
    }),
    bytes: z.object({ total: count, perSecond: z.number().min(0) }),
    backends: z.array(BackendShareSchema).describe('Per-backend distribution, sorted by id; the counts sum to requests.completed.'),
    timeline: z.object({
      intervalMs: z.number().int().min(1),
      points: z.array(TimelinePointSchema),
    }),
  })
  .strict();

export type LoadReport = z.infer<typeof LoadReportSchema>;
export type LatencySummary = z.infer<typeof LatencySchema>;
export type BackendShare = z.infer<typeof BackendShareSchema>;
export type TimelinePoint = z.infer<typeof TimelinePointSchema>;

/** The JSON Schema (draft 2020-12) of the report, as printed in docs/load-tool.md. */
export function loadReportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(LoadReportSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
}

import { Agent, request } from 'undici';

/** A client with its own connection pool, closed by the test. */
export function testClient(connections = 64): Agent {
  return new Agent({ connections, keepAliveTimeout: 2000 });
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export async function get(url: string, opts: { dispatcher?: Agent; headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Reply> {
  const res = await request(url, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body, dispatcher: opts.dispatcher });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

export function json<T = Record<string, unknown>>(r: Reply): T {
  return JSON.parse(r.body) as T;
}

/**
 * Runs `total` GETs with `concurrency` workers and counts outcomes per
 * X-Backend. Bounded by count; `stopAfterMs` also bounds it in time.
 */
export async function loadLoop(
  url: string,
  total: number,
  concurrency: number,
  opts: { dispatcher?: Agent; stopAfterMs?: number; onResponse?: (backend: string, at: number) => void } = {},
): Promise<{ ok: number; failed: number; failures: string[]; byBackend: Map<string, number> }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const failures: string[] = [];
  const byBackend = new Map<string, number>();
  const deadline = Date.now() + (opts.stopAfterMs ?? 120_000);
  const worker = async (): Promise<void> => {
    while (next < total && Date.now() < deadline) {
      next++;
      try {
        const r = await get(url, { dispatcher: opts.dispatcher });
        const backend = String(r.headers['x-backend'] ?? '');
        if (r.status === 200) {
          ok++;
          byBackend.set(backend, (byBackend.get(backend) ?? 0) + 1);
          opts.onResponse?.(backend, Date.now());
        } else {
          failed++;
          if (failures.length < 20) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
        }
      } catch (err) {
        failed++;
        if (failures.length < 20) failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, failed, failures, byBackend };
}

import { request } from 'node:http';
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** One GET with `Connection: close` (no socket left open in the server under test): status and headers, or undefined. */
export function probe(url: string, timeoutMs = 2000): Promise<{ status: number; headers: Record<string, string | string[] | undefined> } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Polls `url` until `ok` accepts an answer; throws after `timeoutMs`. */
export async function waitServing(url: string, timeoutMs: number, ok: (r: { status: number; headers: Record<string, string | string[] | undefined> }) => boolean = (r) => r.status === 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe(url);
    if (r && ok(r)) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${r ? ` (last status ${r.status})` : ''}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

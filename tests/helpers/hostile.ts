import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { RequestLimits } from '../../balancer/forward/request-limits.js';
import { parseBackendSpec, type BackendSpec } from '../../common/backend.js';
import { RawBackend, respond, type HeaderList, type RawConn, type RawRequest } from './raw-http.js';
import { SETUP_NAMES, SETUPS, TEST_SETTINGS, TestBalancer, type SetupName } from './stack.js';

/**
 * Shared parts of the hostile-input suite and the differential fuzzer: a
 * recording backend that answers hostile shapes by path, a balancer per
 * engine in front of it, and the invariants both check.
 */

/** Every engine, and http.Server's listener (stack.ts SETUPS). */
export const ENGINES: readonly SetupName[] = SETUP_NAMES;

export const HOSTILE_LIMITS: Partial<RequestLimits> = {
  maxHeaders: 100,
  maxBodySize: 1024 * 1024,
  requestBuffer: 64 * 1024,
  clientBodyTimeoutMs: 600,
  clientSendTimeoutMs: 1500,
};

const noHealth = { enabled: false, path: '/health', intervalMs: 1000, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 };

export function spec(id: string, url: string): BackendSpec {
  const r = parseBackendSpec({ id, url });
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

export const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

export interface Echo {
  method: string;
  target: string;
  headers: HeaderList;
  bodyLength: number;
  bodySha1: string;
  chunked: boolean;
}

export function echo(b: Buffer): Echo {
  return JSON.parse(b.toString()) as Echo;
}

/** Values of a header (any case) in an echo. */
export function echoed(e: Echo, name: string): string[] {
  return e.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** The hostile backend's answers, by path; anything else is echoed as JSON. */
export function hostileHandler(req: RawRequest, c: RawConn): void {
  const path = req.target.split('?')[0];
  switch (path) {
    case '/trailer-framing':
      c.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n5\r\nhello\r\n0\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\nx-sum: 7\r\n\r\n',
      );
      return;
    case '/connection-named':
      c.write('HTTP/1.1 200 OK\r\nconnection: x-secret, keep-alive\r\nx-secret: 1\r\nx-public: 2\r\ncontent-length: 2\r\n\r\nok');
      return;
    case '/two-framings':
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
      return;
    case '/bytes-after':
      // A complete response, then a second one nobody asked for (a desync attempt).
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nPOISON');
      return;
    case '/204-body':
      c.write('HTTP/1.1 204 No Content\r\ncontent-length: 6\r\n\r\nPOISON');
      return;
    case '/head-body':
      c.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nPOISON');
      return;
    case '/1xx-flood':
      c.write('HTTP/1.1 100 Continue\r\n\r\n'.repeat(200));
      respond(c, 200, 'after the flood');
      return;
    case '/bad-response':
      // A control byte in a field value: no parser may accept this response.
      c.write('HTTP/1.1 200 OK\r\nx-ctl: a\x01b\r\ncontent-length: 2\r\n\r\nok');
      return;
    case '/slow':
      return;
    case '/big':
      c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${32 * 1024 * 1024}\r\n\r\n`);
      c.write(Buffer.alloc(32 * 1024 * 1024, 0x61));
      return;
    default:
      respond(
        c,
        200,
        JSON.stringify({
          method: req.method,
          target: req.target,
          headers: req.headers,
          bodyLength: req.body.length,
          bodySha1: sha1(req.body),
          chunked: req.chunked,
        }),
        [['content-type', 'application/json']],
      );
  }
}

/** A recording hostile backend and a balancer of one engine in front of it. */
export class HostileRig {
  readonly engine: SetupName;
  readonly backend: RawBackend;
  readonly lb: TestBalancer;

  private constructor(engine: SetupName, backend: RawBackend, lb: TestBalancer) {
    this.engine = engine;
    this.backend = backend;
    this.lb = lb;
  }

  static async start(engine: SetupName, opts: { limits?: Partial<RequestLimits>; connections?: number } = {}): Promise<HostileRig> {
    const backend = await RawBackend.start(hostileHandler);
    const lb = await TestBalancer.start({
      backends: [spec('b1', backend.url)],
      settings: {
        ...SETUPS[engine],
        health: noHealth,
        limits: { ...HOSTILE_LIMITS, ...opts.limits },
        pool: { ...TEST_SETTINGS.pool, headersTimeoutMs: 3000, connections: opts.connections ?? TEST_SETTINGS.pool.connections },
      },
    });
    await lb.routable(1);
    return new HostileRig(engine, backend, lb);
  }

  get upstream() {
    return this.lb.lb.upstreams.get('b1')!;
  }

  /** What counts against the backend: transport failures, breaker, ejection. */
  blame(): { failures: number; breaker: string; ejected: boolean } {
    const u = this.upstream;
    const f = this.lb.lb.facts(u);
    return { failures: u.failures, breaker: f.breaker, ejected: f.ejected };
  }

  assertNotBlamed(before: { failures: number }): void {
    const now = this.blame();
    assert.equal(now.failures, before.failures, 'no failure counted against the backend');
    assert.equal(now.breaker, 'closed', 'breaker closed');
    assert.equal(now.ejected, false, 'backend not ejected');
  }

  async close(): Promise<void> {
    await this.lb.close();
    await this.backend.close();
  }
}

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it, type TestContext } from 'node:test';
import { HttpHealthChecker, type HttpHealthCheckerOptions } from '../../balancer/health/health-checker.js';
import { silentLogger } from '../../common/logger.js';
import { RawTcpServers } from '../helpers/tcp-servers.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The active health checker against real sockets: backends that accept and
 * never answer must not starve the checks of the others, and a backend is
 * judged by its final status, past any interim 1xx.
 */
describe('the health checker against real sockets', () => {
  const raw = new RawTcpServers();
  const checkers: HttpHealthChecker[] = [];
  after(async () => {
    for (const c of checkers) await c.close();
    await raw.close();
  });

  /** A raw TCP server that answers each connection with `onConnection` (a deep backlog: hundreds connect at once). */
  const tcp = (onConnection: (s: Socket) => void): Promise<string> => raw.start(onConnection, 2048);

  function checker(over: Partial<HttpHealthCheckerOptions>): HttpHealthChecker {
    const c = new HttpHealthChecker({
      path: '/health',
      intervalMs: 1000,
      fastIntervalMs: 500,
      timeoutMs: 1000,
      rise: 1,
      fall: 1,
      refusedIsFatal: true,
      sink: () => undefined,
      logger: silentLogger(),
      ...over,
    });
    checkers.push(c);
    return c;
  }

  it('600 silent backends (timeout = interval) do not hold back the checks of a healthy one: its changes are seen within about an interval', async (t: TestContext) => {
    const intervalMs = 1000;
    // Accepts and never answers: every check of it holds its slot for the whole timeout. Each target opens its own connection.
    const silent = await tcp(() => undefined);
    let status = 200;
    const healthy = await tcp((s) => s.end(`HTTP/1.1 ${status} X\r\ncontent-length: 0\r\n\r\n`));
    const c = checker({ intervalMs, timeoutMs: intervalMs });
    for (let i = 0; i < 600; i++) c.watch({ id: `silent-${i}`, url: silent });
    c.watch({ id: 'ok', url: healthy });

    const t0 = performance.now();
    await c.start();
    const startMs = performance.now() - t0;
    t.diagnostic(`first round of 601 checks: ${Math.round(startMs)} ms`);
    // One timeout when all 601 run at once; 128 at a time it was five.
    assert.ok(startMs < 3 * intervalMs, `the first round took ${Math.round(startMs)} ms`);
    assert.equal(c.state('ok')?.health.status, 'healthy');
    assert.equal(c.state('silent-0')?.last?.error, 'timeout');

    // Checks of the silent ones keep timing out all along; the healthy one's status changes are seen within about an interval each.
    for (const [to, expected] of [
      [503, 'unhealthy'],
      [200, 'healthy'],
      [503, 'unhealthy'],
    ] as const) {
      status = to;
      const t1 = performance.now();
      await waitFor(`'ok' ${expected} after it answers ${to}`, () => c.state('ok')?.health.status === expected, 10 * intervalMs, 10);
      const ms = performance.now() - t1;
      t.diagnostic(`answers ${to}: ${expected} after ${Math.round(ms)} ms`);
      assert.ok(
        ms < 2.5 * intervalMs,
        `answering ${to}, 'ok' was seen ${expected} after ${Math.round(ms)} ms, more than about one interval (${intervalMs} ms)`,
      );
    }
    assert.equal(c.state('silent-599')?.last?.error, 'timeout');
    await c.close();
  });

  it('judges a backend by its final status: 103 Early Hints then 200 is healthy, 100 Continue then 503 unhealthy', async () => {
    const hints = await tcp((s) => s.end('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    const cont = await tcp((s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n'));
    const c = checker({ timeoutMs: 1000 });
    c.watch({ id: 'hints', url: hints });
    c.watch({ id: 'continue', url: cont });
    await c.start();
    assert.equal(c.state('hints')?.health.status, 'healthy');
    assert.equal(c.state('hints')?.last?.statusCode, 200);
    assert.equal(c.state('continue')?.health.status, 'unhealthy');
    assert.equal(c.state('continue')?.last?.statusCode, 503);
    await c.close();
  });
});

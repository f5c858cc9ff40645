import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ENGINE_NAMES } from '../../balancer/forward/forwarder.js';
import { createLogger } from '../../common/logger.js';
import { get, loadLoop } from '../helpers/http.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** A pino destination that keeps every line, parsed. */
class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
  access(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.component === 'access');
  }
}

describe('the access log', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  async function rig(settings: Record<string, unknown>): Promise<{ lb: TestBalancer; out: Lines }> {
    const out = new Lines();
    const backends = await Promise.all(['a1', 'a2'].map((id) => TestBackend.start(id)));
    const lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), settings, logger: createLogger('balancer', 'info', out) });
    cleanup.push(() => lb.close(), ...backends.map((b) => () => b.close()));
    await lb.routable(2);
    return { lb, out };
  }

  it('is off by default: nothing is logged per request at info level', async () => {
    const { lb, out } = await rig({});
    const before = out.lines.length;
    const r = await loadLoop(`${lb.url}/`, 200, 4);
    assert.equal(r.ok, 200);
    assert.equal(out.lines.length, before, `no line per request: ${JSON.stringify(out.lines.slice(before, before + 2))}`);
  });

  for (const engine of ENGINE_NAMES) {
    it(`with --access-log writes one JSON line per request with its fields (${engine} engine)`, async () => {
      const { lb, out } = await rig({ accessLog: true, engine });
      const r = await get(`${lb.url}/some/path?q=1`);
      assert.equal(r.status, 200);
      await waitFor('the access line', () => out.access().length === 1, 2000);
      const line = out.access()[0]!;
      assert.equal(line.msg, 'request');
      assert.equal(line.method, 'GET');
      assert.equal(line.path, '/some/path?q=1');
      assert.equal(line.status, 200);
      assert.equal(line.backend, r.headers['x-backend']);
      assert.equal(line.requestId, r.headers['x-request-id']);
      assert.equal(line.attempts, 1);
      assert.equal(line.clientIp, '127.0.0.1');
      assert.equal(typeof line.durationMs, 'number');
      assert.equal(line.error, undefined);
    });

    it(`logs a request answered with an error with its status and code (${engine} engine)`, async () => {
      const out = new Lines();
      const lb = await TestBalancer.start({ backends: [], settings: { accessLog: true, engine }, logger: createLogger('balancer', 'info', out) });
      cleanup.push(() => lb.close());
      const r = await get(`${lb.url}/nowhere`);
      assert.equal(r.status, 503);
      await waitFor('the access line', () => out.access().length === 1, 2000);
      const line = out.access()[0]!;
      assert.equal(line.status, 503);
      assert.equal(line.path, '/nowhere');
      assert.equal(line.error, 'SWY_NO_BACKEND');
      assert.equal(line.backend, undefined);
      assert.equal(line.requestId, r.headers['x-request-id']);
    });
  }

  it('--access-log-sample keeps about that share of requests', async () => {
    const { lb, out } = await rig({ accessLog: true, accessLogSample: 0.1 });
    const r = await loadLoop(`${lb.url}/`, 2000, 8);
    assert.equal(r.ok, 2000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const n = out.access().length;
    // Binomial(2000, 0.1): mean 200, standard deviation about 13.4; 120..280 is six of them.
    assert.ok(n >= 120 && n <= 280, `${n} of 2000 requests logged at a 10 % sample`);
  });
});

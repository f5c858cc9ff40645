import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';

// The raw engine reads every plain backend connection into one shared buffer
// (net.connect onread). These responses are large, interleaved across many
// connections and two backends, some chunked, some read slowly by the client:
// a byte kept by reference instead of copied would show as a wrong digest.

const BODIES = [randomBytes(300_000), randomBytes(70_001), randomBytes(1_000), randomBytes(5)];
const DIGESTS = BODIES.map((b) => createHash('sha256').update(b).digest('hex'));

function backend(id: string): Server {
  return createServer((req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('body') ?? 0);
    const chunked = req.url?.includes('chunked') ?? false;
    const body = BODIES[n]!;
    res.setHeader('x-body', String(n));
    res.setHeader('x-served-by', id);
    if (!chunked) res.setHeader('content-length', body.length);
    // Several writes, so the bytes arrive in many reads of different sizes.
    let at = 0;
    const step = 16_384 + n * 777;
    const next = (): void => {
      if (at >= body.length) {
        res.end();
        return;
      }
      const piece = body.subarray(at, at + step);
      at += step;
      if (res.write(piece)) setImmediate(next);
      else res.once('drain', next);
    };
    next();
  });
}

describe('raw engine: backend reads into one shared buffer', () => {
  const servers: Server[] = [];
  let lb: SwitchyardProcess;
  let url: string;

  before(async () => {
    const ports: number[] = [];
    for (const id of ['b1', 'b2']) {
      const s = backend(id);
      const p = await freePort();
      await new Promise<void>((resolve) => s.listen(p, '127.0.0.1', resolve));
      servers.push(s);
      ports.push(p);
    }
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const adminPort = await freePort();
    lb = new SwitchyardProcess([
      'balancer',
      '--engine',
      'raw',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--backends',
      `b1=http://127.0.0.1:${ports[0]},b2=http://127.0.0.1:${ports[1]}`,
    ]);
    // Ready means both backends passed their first health checks: a request before that would get 503.
    await lb.waitReady(`http://127.0.0.1:${adminPort}`, 2, 20_000);
  });

  after(async () => {
    await lb.kill('SIGKILL');
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  it('keeps every response body intact across interleaved, chunked and slowly read responses', async (t: TestContext) => {
    const agent = new Agent({ connections: 24, pipelining: 1 });
    let checked = 0;
    const one = async (i: number): Promise<void> => {
      const n = i % BODIES.length;
      const r = await request(`${url}/?body=${n}${i % 3 === 0 ? '&chunked' : ''}`, { dispatcher: agent });
      assert.equal(r.statusCode, 200);
      const h = createHash('sha256');
      let pieces = 0;
      for await (const piece of r.body) {
        h.update(piece as Buffer);
        // Every seventh request reads slowly, so its backend connection is paused and resumed.
        if (i % 7 === 0 && pieces++ % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      assert.equal(h.digest('hex'), DIGESTS[n], `request ${i}: body ${n} through ${String(r.headers['x-backend'])}`);
      checked++;
    };
    const total = 240;
    let nextIndex = 0;
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (nextIndex < total) await one(nextIndex++);
      }),
    );
    await agent.close();
    assert.equal(checked, total);
    t.diagnostic(`${total} responses (300 KB to 5 B, a third chunked, a seventh read slowly) over 24 connections: every digest matches`);
  });
});

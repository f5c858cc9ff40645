import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { RawClient } from '../helpers/raw-http.js';
import { TestBackend } from '../helpers/stack.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('graceful shutdown on SIGTERM', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });

  async function balancer(backendUrl: string, extra: string[] = []): Promise<{ proc: SwitchyardProcess; url: string; port: number }> {
    const [port, adminPort] = [await freePort(), await freePort()];
    const proc = new SwitchyardProcess([
      'balancer',
      '--backends',
      `b=${backendUrl}`,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      ...extra,
    ]);
    cleanup.push(() => proc.kill('SIGKILL'));
    // Not 'backend is healthy': that line comes during the first round of checks, before the proxy listens.
    await proc.waitReady(`http://127.0.0.1:${adminPort}`, 1);
    return { proc, url: `http://127.0.0.1:${port}`, port };
  }

  it('the balancer stops accepting, finishes in-flight requests, then exits 0', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    const lb = await balancer(backend.url);
    const inFlight = get(`${lb.url}/delay/800`);
    await waitFor('the request to reach the backend', () => backend.state.requests >= 1);
    const t0 = Date.now();
    lb.proc.proc.kill('SIGTERM');
    await sleep(150);
    await assert.rejects(get(`${lb.url}/`), /ECONNREFUSED/, 'no new connections once shutting down');
    const r = await inFlight;
    assert.equal(r.status, 200, 'the in-flight request was answered');
    const exit = await lb.proc.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 >= 500, 'it waited for the in-flight request');
    assert.ok(lb.proc.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
  });

  it('gives up on requests still open after --shutdown-timeout', async () => {
    const backend = await TestBackend.start('b');
    cleanup.push(() => backend.close());
    const lb = await balancer(backend.url, ['--shutdown-timeout', '300ms']);
    const stuck = get(`${lb.url}/delay/10000`).then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor('the request to reach the backend', () => backend.state.requests >= 1);
    const t0 = Date.now();
    lb.proc.proc.kill('SIGTERM');
    const exit = await lb.proc.exited;
    const took = Date.now() - t0;
    assert.equal(exit.code, 0);
    assert.ok(took < 3000, `exited ${took} ms after SIGTERM`);
    assert.equal(await stuck, 'cut');
    assert.ok(lb.proc.lines.some((l) => l.msg === 'shutdown timeout, closing open requests'));
  });

  it('the demo backend fails /health, finishes open requests, then exits 0', async () => {
    const port = await freePort();
    const proc = new SwitchyardProcess(['backend', '--port', String(port), '--host', '127.0.0.1', '--id', 'g1']);
    cleanup.push(() => proc.kill('SIGKILL'));
    // readiness: a demo backend has no warm-up; it serves from the moment it listens.
    await proc.waitForLog('backend listening');
    const url = `http://127.0.0.1:${port}`;
    const slow = get(`${url}/delay/600`);
    await sleep(100);
    proc.proc.kill('SIGTERM');
    await sleep(100);
    assert.equal((await slow).status, 200);
    assert.equal((await proc.exited).code, 0);
  });

  it('the demo backend keeps answering open keep-alive connections for --drain-delay, each answer closing its connection, then exits', async () => {
    const port = await freePort();
    const proc = new SwitchyardProcess(['backend', '--port', String(port), '--host', '127.0.0.1', '--id', 'g2', '--drain-delay', '1500ms']);
    cleanup.push(() => proc.kill('SIGKILL'));
    await proc.waitForLog('backend listening');
    const url = `http://127.0.0.1:${port}`;
    const c = await RawClient.connect(port);
    cleanup.push(async () => c.destroy());
    c.send('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
    const before = await c.response();
    assert.equal(before.status, 200);
    assert.notEqual(before.header('connection'), 'close');
    const sigterm = Date.now();
    proc.proc.kill('SIGTERM');
    await waitFor('/health to fail', async () => (await get(`${url}/health`)).status === 503);
    // The kept-alive connection, idle when the signal came, still gets an answer, which closes it.
    c.send('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
    const during = await c.response();
    assert.equal(during.status, 200);
    assert.equal(during.header('connection'), 'close');
    assert.ok(await c.closesWithin(1000), 'the connection closes after that answer');
    assert.equal((await proc.exited).code, 0);
    assert.ok(Date.now() - sigterm >= 1400, `exited ${Date.now() - sigterm} ms after SIGTERM, after the drain delay`);
  });

  it('with --drain-delay 0 the demo backend closes idle keep-alive connections at once', async () => {
    const port = await freePort();
    const proc = new SwitchyardProcess(['backend', '--port', String(port), '--host', '127.0.0.1', '--id', 'g3', '--drain-delay', '0']);
    cleanup.push(() => proc.kill('SIGKILL'));
    await proc.waitForLog('backend listening');
    const c = await RawClient.connect(port);
    cleanup.push(async () => c.destroy());
    c.send('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.equal((await c.response()).status, 200);
    proc.proc.kill('SIGTERM');
    assert.ok(await c.closesWithin(2000), 'the idle connection is closed');
    assert.equal((await proc.exited).code, 0);
  });
});

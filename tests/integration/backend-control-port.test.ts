import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { NO_FAULTS, type Faults } from '../../backend/faults.js';
import { get, json } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** A body that, were it obeyed, would make the backend fail every request and every check. */
const BREAK_IT = JSON.stringify({ errorRate: 1, errorStatus: 503, unhealthy: true });
const JSON_BODY = { 'content-type': 'application/json' };

/**
 * An address of this machine that is not 127.0.0.1: a real interface if there
 * is one, else 127.0.0.2 (all of 127/8 is loopback on Linux, but a socket bound
 * to 127.0.0.1 alone does not accept there).
 */
function anotherLocalAddress(): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  return external?.address ?? '127.0.0.2';
}

describe('the backend serves fault injection on its control port only', () => {
  let trafficPort: number;
  let controlPort: number;
  let backend: SwitchyardProcess;
  let lb: SwitchyardProcess;
  let proxyUrl: string;
  let adminUrl: string;
  let trafficUrl: string;
  let controlUrl: string;

  before(async () => {
    [trafficPort, controlPort] = [await freePort(), await freePort()];
    const [port, adminPort] = [await freePort(), await freePort()];
    trafficUrl = `http://127.0.0.1:${trafficPort}`;
    controlUrl = `http://127.0.0.1:${controlPort}`;
    proxyUrl = `http://127.0.0.1:${port}`;
    adminUrl = `http://127.0.0.1:${adminPort}`;
    // The traffic port on every address (its default), the control host left at its default.
    backend = new SwitchyardProcess(['backend', '--port', String(trafficPort), '--host', '0.0.0.0', '--control-port', String(controlPort), '--id', 'b1']);
    lb = new SwitchyardProcess([
      'balancer',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--backends',
      `b1=${trafficUrl}`,
      '--health-interval',
      '500ms',
      '--health-timeout',
      '400ms',
      '--health-fast-interval',
      '100ms',
    ]);
    try {
      await waitFor('the backend control listener', async () => (await get(`${controlUrl}/fault`)).status === 200, 15_000);
      await lb.waitReady(adminUrl, 1);
    } catch (err) {
      throw new Error(`${String(err)}\nbackend stderr: ${backend.stderr.join('\n')}\nbalancer stderr: ${lb.stderr.join('\n')}`);
    }
  });

  after(async () => {
    await Promise.all([lb.kill('SIGKILL'), backend.kill('SIGKILL')]);
  });

  it('the balancer knows only the traffic port', async () => {
    const listed = json<{ backends: { id: string; url: string }[] }>(await get(`${adminUrl}/backends`)).backends;
    assert.deepEqual(
      listed.map((b) => [b.id, b.url]),
      [['b1', trafficUrl]],
    );
  });

  it('/fault through the balancer and on the traffic port is a 404, and changes nothing', async () => {
    for (const base of [proxyUrl, trafficUrl]) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'GET']) {
        const r = await get(`${base}/fault`, { method, headers: JSON_BODY, body: method === 'GET' || method === 'DELETE' ? undefined : BREAK_IT });
        assert.equal(r.status, 404, `${method} ${base}/fault: ${r.body}`);
        assert.equal(json<{ error: { code: string } }>(r).error.code, 'NOT_FOUND');
        assert.ok(!r.body.includes('latencyMs'), 'the current faults are not shown either');
      }
    }
    assert.deepEqual(json<Faults>(await get(`${controlUrl}/fault`)), NO_FAULTS);
    for (let i = 0; i < 10; i++) {
      const r = await get(`${proxyUrl}/`);
      assert.equal(r.status, 200, r.body);
      assert.equal(json<{ id: string }>(r).id, 'b1');
    }
    assert.equal((await get(`${trafficUrl}/health`)).status, 200);
  });

  it('the same request on the control port takes effect, and DELETE clears it', async () => {
    const set = await get(`${controlUrl}/fault`, { method: 'POST', headers: JSON_BODY, body: BREAK_IT });
    assert.equal(set.status, 200, set.body);
    assert.deepEqual(json<Faults>(set), { ...NO_FAULTS, errorRate: 1, errorStatus: 503, unhealthy: true });
    const direct = await get(`${trafficUrl}/`);
    assert.equal(direct.status, 503);
    assert.equal(json<{ error: string }>(direct).error, 'injected failure');
    assert.equal((await get(`${trafficUrl}/health`)).status, 503);

    const cleared = await get(`${controlUrl}/fault`, { method: 'DELETE' });
    assert.equal(cleared.status, 200);
    assert.deepEqual(json<Faults>(cleared), NO_FAULTS);
    assert.equal((await get(`${trafficUrl}/`)).status, 200);
    // Whatever the balancer's checks saw meanwhile, it routes to the backend again.
    await lb.waitReady(adminUrl, 1);
    assert.equal((await get(`${proxyUrl}/`)).status, 200);
  });

  it('the control port rejects a bad fault and serves nothing else', async () => {
    const bad = await get(`${controlUrl}/fault`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ errorRate: 2 }) });
    assert.equal(bad.status, 400);
    assert.equal(json<{ error: { code: string } }>(bad).error.code, 'BAD_FAULT');
    const notJson = await get(`${controlUrl}/fault`, { method: 'POST', headers: JSON_BODY, body: '{' });
    assert.equal(notJson.status, 400);
    assert.equal((await get(`${controlUrl}/`)).status, 404);
    assert.equal((await get(`${controlUrl}/health`)).status, 404);
  });

  it('the control listener binds loopback by default', async (t) => {
    const other = anotherLocalAddress();
    const traffic = await get(`http://${other}:${trafficPort}/`);
    assert.equal(traffic.status, 200, `the traffic port (--host 0.0.0.0) answers on ${other}`);
    await assert.rejects(get(`http://${other}:${controlPort}/fault`), /ECONNREFUSED/, `the control port does not answer on ${other}`);
    assert.equal((await get(`${controlUrl}/fault`)).status, 200);
    t.diagnostic(`control port ${controlPort}: answers on 127.0.0.1, refused on ${other}`);
  });
});

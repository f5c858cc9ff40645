import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { get, loadLoop } from '../helpers/http.js';
import { freePort, freePortRange } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('switchyard demo', () => {
  it('starts N backends and a balancer with one command, serves, and stops everything on Ctrl+C', async (t) => {
    const [basePort, controlBasePort] = [await freePortRange(3), await freePortRange(3)];
    const [port, adminPort] = [await freePort(), await freePort()];
    const demo = new SwitchyardProcess([
      'demo',
      '--backends',
      '3',
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--base-port',
      String(basePort),
      '--control-base-port',
      String(controlBasePort),
    ]);
    try {
      // readiness: the demo prints this banner only once its /readyz counts all 3 backends routable (cli/demo.ts).
      await demo.waitForLine(/^Switchyard demo is up: 3 backends/, 30_000);
      assert.ok(
        demo.lines.some((l) => String(l.msg).includes(`proxy      http://localhost:${port}`)),
        'it prints where to curl',
      );
      const spread = await loadLoop(`http://127.0.0.1:${port}/`, 30, 1);
      assert.deepEqual(Object.fromEntries([...spread.byBackend].sort()), { 'backend-1': 10, 'backend-2': 10, 'backend-3': 10 });
      // The banner's fault URL is backend-2's control port; the traffic port does not serve /fault.
      const faultUrl = `http://127.0.0.1:${controlBasePort + 1}/fault`;
      assert.ok(
        demo.lines.some((l) => String(l.msg).includes(`backend-2  http://127.0.0.1:${basePort + 1}   faults ${faultUrl}`)),
        'it prints where faults are set',
      );
      assert.equal(
        (await get(`http://127.0.0.1:${basePort + 1}/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"errorRate":1}' }))
          .status,
        404,
      );
      assert.equal(
        (await get(faultUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"errorRate":1,"errorStatus":503}' })).status,
        200,
      );
      assert.equal((await get(`http://127.0.0.1:${basePort + 1}/`)).status, 503);
      assert.equal((await get(faultUrl, { method: 'DELETE' })).status, 200);
      const listed = (await get(`http://127.0.0.1:${adminPort}/backends`)).status;
      assert.equal(listed, 200);
      const pids = demo.lines
        .map((l) => /pid (\d+)$/.exec(String(l.msg))?.[1])
        .filter(Boolean)
        .map(Number);
      assert.equal(pids.length, 3, 'it prints the backend pids');
      demo.proc.kill('SIGINT');
      const exit = await demo.exited;
      assert.equal(exit.code, 0);
      await waitFor('every child to be gone', () => pids.every((p) => !alive(p)), 5000);
      await assert.rejects(get(`http://127.0.0.1:${port}/`), /ECONNREFUSED/);
      t.diagnostic('demo: 3 backends, 30 requests spread 10/10/10, Ctrl+C stopped all');
    } finally {
      await demo.kill('SIGKILL');
    }
  });
});

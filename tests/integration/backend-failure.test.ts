import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseBackendSpec, type BackendSpec } from '../../common/backend.js';
import { loadLoop, testClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { TestBalancer } from '../helpers/stack.js';
import { sleep, waitFor } from '../helpers/wait.js';

function startBackend(id: string, port: number): SwitchyardProcess {
  return new SwitchyardProcess(['backend', '--port', String(port), '--host', '127.0.0.1', '--id', id]);
}

describe('a backend process dies under load', () => {
  const ids = ['b1', 'b2', 'b3'];
  let ports: number[];
  let procs: SwitchyardProcess[];
  let lb: TestBalancer;
  const client = testClient(64);

  before(async () => {
    ports = await Promise.all(ids.map(() => freePort()));
    procs = ids.map((id, i) => startBackend(id, ports[i]!));
    await Promise.all(procs.map((p) => p.waitForLog('backend listening')));
    const specs: BackendSpec[] = ids.map((id, i) => {
      const r = parseBackendSpec({ id, url: `http://127.0.0.1:${ports[i]}` });
      assert.ok(r.ok);
      return r.value;
    });
    lb = await TestBalancer.start({
      backends: specs,
      settings: {
        health: { enabled: true, path: '/health', intervalMs: 500, fastIntervalMs: 100, timeoutMs: 400, rise: 2, fall: 3 },
        // The health checks are what this tests: outlier detection and the circuit breaker (their own suites)
        // could take b2 out for the refused attempts made before the failed check when the machine is slow
        // (few successes before the kill, many refusals until the check), and keep it out after rise.
        resilience: { outlier: { consecutiveFailures: 0 }, retryBudget: {}, slowStart: { windowMs: 0 }, panicThresholdPercent: 0 },
      },
    });
    await lb.routable(3);
  });

  after(async () => {
    await client.close();
    await lb.close();
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  });

  it('loses no request, stops routing to it after the failed check, and takes it back after rise passes', async (t) => {
    const victim = lb.lb.upstreams.get('b2')!;
    const load = loadLoop(`${lb.url}/`, 3000, 50, { dispatcher: client, stopAfterMs: 60_000 });
    await sleep(300);
    const killedAt = Date.now();
    await procs[1]!.kill('SIGKILL');
    await waitFor('b2 to be marked unhealthy', () => victim.health === 'unhealthy', 5000, 2);
    const detectedMs = Date.now() - killedAt;
    const attemptsAtDetection = victim.requests;
    const result = await load;

    assert.equal(result.failed, 0, `failed requests: ${result.failures.join('; ')}`);
    assert.equal(result.ok, 3000);
    assert.equal(victim.requests, attemptsAtDetection, 'no attempt reached the dead backend after its failed check');
    assert.ok(detectedMs < 1000, `detected in ${detectedMs} ms`);
    assert.ok((result.byBackend.get('b1') ?? 0) > 1000 && (result.byBackend.get('b3') ?? 0) > 1000);

    // Back on the same port: unhealthy until `rise` (2) consecutive passes.
    const restartedAt = Date.now();
    procs[1] = startBackend('b2', ports[1]!);
    await procs[1].waitForLog('backend listening');
    const listeningAt = Date.now();
    await waitFor('b2 to be healthy again', () => victim.health === 'healthy', 5000, 2);
    const cameBackMs = Date.now() - restartedAt;
    // Every check before it listened was refused; the first pass comes after, and rise = 2 needs
    // a second pass a fast interval (100 ms) later: with rise = 1 it would be back at once.
    const afterListeningMs = Date.now() - listeningAt;
    assert.ok(afterListeningMs >= 80, `healthy ${afterListeningMs} ms after it listened: two passes, a fast interval apart`);
    await waitFor('b2 to be routable again', () => lb.lb.upstreams.routable.includes(victim), 2000, 2);
    const again = await loadLoop(`${lb.url}/`, 300, 10, { dispatcher: client });
    assert.equal(again.failed, 0);
    assert.equal(again.byBackend.get('b2'), 100, 'round robin includes it again');
    t.diagnostic(
      `b2 killed: detected unhealthy after ${detectedMs} ms; restarted: healthy after ${cameBackMs} ms (${afterListeningMs} ms after it listened); 3000 requests, 0 failed`,
    );
  });
});

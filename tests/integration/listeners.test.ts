import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineForwarder } from '../../balancer/forward/engine-forwarder.js';
import { RawClient } from '../helpers/raw-http.js';
import { SETUP_NAMES, SETUPS, TestBackend, TestBalancer } from '../helpers/stack.js';

/**
 * `--listener` and `--engine` are two choices: which part reads client
 * connections (llhttp on the sockets, or http.Server) and which carries
 * attempts to backends. Each setup the suites run is what it says it is.
 */
describe('listeners and engines', () => {
  for (const name of SETUP_NAMES) {
    const setup = SETUPS[name];
    it(`${name}: the ${setup.listener} listener reads the connection, the ${setup.engine} engine carries the attempt, /stats names both`, async () => {
      const backend = await TestBackend.start('b1');
      const lb = await TestBalancer.start({ backends: [backend.spec()], settings: { ...setup } });
      const c = await RawClient.connect(lb.port);
      try {
        await lb.routable(1);
        c.send('GET /whoami HTTP/1.1\r\nHost: example.test\r\n\r\n');
        const r = await c.response();
        assert.equal(r.status, 200);
        assert.equal(r.header('x-backend'), 'b1');
        const fwd = lb.lb.forwarder;
        assert.ok(fwd instanceof EngineForwarder);
        assert.equal(fwd.name, setup.engine);
        assert.equal(fwd.listener, setup.listener);
        // The open keep-alive connection is held by the llhttp listener, or else by http.Server alone.
        assert.equal(fwd.connectionCount, setup.listener === 'llhttp' ? 1 : 0);
        const stats = (await (await fetch(`${lb.adminUrl}/stats`)).json()) as { engine: string; listener: string };
        assert.equal(stats.engine, setup.engine);
        assert.equal(stats.listener, setup.listener);
      } finally {
        c.destroy();
        await lb.close();
        await backend.close();
      }
    });
  }
});

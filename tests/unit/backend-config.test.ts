import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultControlPort, loadBackendConfig } from '../../backend/config.js';
import { ConfigError } from '../../common/config/options.js';

const load = (argv: string[], env: Record<string, string> = {}) => loadBackendConfig({ argv, env }).config;

describe('backend configuration: the control listener', () => {
  it('defaults to the traffic port + 10000 on loopback', () => {
    const c = load([]);
    assert.equal(c.port, 8081);
    assert.equal(c.controlPort, 18081);
    assert.equal(c.controlHost, '127.0.0.1');
    assert.ok(Object.isFrozen(c));
  });

  it('gives backends on consecutive ports consecutive control ports, clear of each other and of 9090/9091', () => {
    const traffic = Array.from({ length: 50 }, (_, i) => 8081 + i);
    const control = traffic.map(defaultControlPort);
    assert.deepEqual(
      control,
      traffic.map((p) => p + 10_000),
    );
    const all = [...traffic, ...control, 9090, 9091];
    assert.equal(new Set(all).size, all.length);
  });

  it('stays a valid port at the top of the range, and takes a free port when the traffic port does', () => {
    assert.equal(defaultControlPort(55_535), 65_535);
    assert.equal(defaultControlPort(55_536), 45_536);
    assert.equal(defaultControlPort(65_535), 55_535);
    assert.equal(defaultControlPort(0), 0);
    assert.equal(load(['--port', '0']).controlPort, 0);
  });

  it('takes --control-port and --control-host, or their environment variables', () => {
    assert.equal(load(['--port', '8082', '--control-port', '7000']).controlPort, 7000);
    assert.equal(load(['--control-host', '0.0.0.0']).controlHost, '0.0.0.0');
    const env = load([], { SWITCHYARD_BACKEND_PORT: '8085', SWITCHYARD_CONTROL_PORT: '0', SWITCHYARD_CONTROL_HOST: '::1' });
    assert.equal(env.port, 8085);
    assert.equal(env.controlPort, 0);
    assert.equal(env.controlHost, '::1');
    assert.equal(load(['--control-port', '7001'], { SWITCHYARD_CONTROL_PORT: '7002' }).controlPort, 7001, 'a flag beats the environment');
  });

  it('refuses a control port that is the traffic port', () => {
    assert.throws(
      () => load(['--port', '8081', '--control-port', '8081']),
      (e: unknown) => e instanceof ConfigError && /--control-port 8081/.test(e.message),
    );
  });
});

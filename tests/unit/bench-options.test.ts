import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadBenchConfig } from '../../cli/bench/options.js';
import { loadSoakConfig } from '../../cli/bench/soak-options.js';
import { DEFAULT_PROXIES } from '../../cli/bench/targets.js';
import { ConfigError } from '../../common/config/options.js';

const bench = (argv: string[]) => loadBenchConfig({ argv, env: {} }).config;

describe('bench and soak options', () => {
  it('defaults: 3 rounds of 5 s at 64 and 256 connections, every default proxy, install when missing', () => {
    const c = bench([]);
    assert.equal(c.rounds, 3);
    assert.equal(c.duration, 5000);
    assert.deepEqual(c.connections, [64, 256]);
    assert.deepEqual(c.proxies, DEFAULT_PROXIES);
    assert.ok(!DEFAULT_PROXIES.includes('switchyard-raw'));
    assert.equal(c.install, true);
    assert.equal(c.loadGenerator, 'auto');
  });

  it('default runtime stays under 12 minutes: under 10 of load, HTTPS and HTTP/2 rows at the first connection count only', () => {
    const c = bench([]);
    assert.deepEqual(c.tlsProxies, ['switchyard-tls', 'nginx-tls', 'haproxy-tls', 'switchyard-h2', 'nginx-h2', 'haproxy-h2']);
    const runs = c.rounds * (c.proxies.length * c.connections.length + c.variantProxies.length + c.tlsProxies.length);
    const seconds = (runs * (c.duration + c.ramp)) / 1000 + (c.proxies.length + c.variantProxies.length + c.tlsProxies.length) * (c.warmup / 1000);
    assert.ok(seconds < 10 * 60, `${seconds} s of load`);
  });

  it('--smoke is one short round, and keeps only direct and switchyard in the backend variant', () => {
    const c = bench(['--smoke']);
    assert.equal(c.rounds, 1);
    assert.equal(c.duration, 1000);
    assert.equal(c.warmup, 0);
    assert.deepEqual(c.connections, [32]);
    assert.deepEqual(c.variantProxies, ['direct', 'switchyard']);
  });

  it('names an unknown proxy and refuses empty lists', () => {
    assert.throws(
      () => bench(['--proxies', 'nginx,traefik']),
      (e: unknown) => e instanceof ConfigError && /--proxies/.test(e.message),
    );
    assert.throws(() => bench(['--connections', '']), ConfigError);
    assert.deepEqual(bench(['--variant-proxies', '']).variantProxies, []);
  });

  it('soak: bounded by 1,000,000 requests or 10 minutes; --smoke takes seconds', () => {
    const d = loadSoakConfig({ argv: [], env: {} }).config;
    assert.equal(d.requests, 1_000_000);
    assert.equal(d.maxDuration, 600_000);
    assert.equal(d.maxRssGrowth, 0.1);
    const s = loadSoakConfig({ argv: ['--smoke'], env: {} }).config;
    assert.ok(s.maxDuration <= 10_000 && s.warmup < s.maxDuration);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../common/config/options.js';
import { DEFAULT_DURATION_MS, joinRepeatedFlag, loadLoadConfig } from '../../cli/load/options.js';

const load = (argv: string[], env: Record<string, string> = {}) => loadLoadConfig({ argv, env }).config;

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
}

describe('switchyard load options', () => {
  it('is bounded by default: 10 s when neither --duration nor --requests is given', () => {
    const c = load(['http://localhost:9090']);
    assert.equal(c.duration, DEFAULT_DURATION_MS);
    assert.equal(c.requests, undefined);
    assert.equal(c.connections, 10);
    assert.equal(c.method, 'GET');
  });

  it('runs by request count with a time limit, and refuses both bounds at once', () => {
    const c = load(['http://localhost:9090', '--requests', '5000']);
    assert.equal(c.duration, undefined);
    assert.equal(c.requests, 5000);
    assert.equal(c.timeLimit, 300_000);
    rejects(() => load(['http://x', '--requests', '5', '--duration', '2s']), /not both/);
  });

  it('uses no more connections than requests', () => {
    assert.equal(load(['http://x', '--requests', '3', '--connections', '50']).connections, 3);
  });

  it('adds http:// to a bare host and rejects other schemes and a missing URL', () => {
    assert.equal(load(['localhost:9090']).url, 'http://localhost:9090');
    rejects(() => load(['ftp://x']), /invalid URL/);
    rejects(() => load([]), /missing the URL/);
    rejects(() => load(['http://a', 'http://b']), /unexpected argument/);
  });

  it('takes repeated --header flags and names a bad one', () => {
    assert.deepEqual(joinRepeatedFlag(['u', '--header', 'a: 1', '--header=b:2', '--json'], 'header'), ['--header=a: 1\nb:2', 'u', '--json']);
    const c = load(['http://x', '--header', 'X-Test: yes', '--header', 'Authorization: Bearer a:b']);
    assert.deepEqual(c.header, [
      ['X-Test', 'yes'],
      ['Authorization', 'Bearer a:b'],
    ]);
    rejects(() => load(['http://x', '--header', 'no colon']), /--header/);
    assert.deepEqual(load(['http://x'], { SWITCHYARD_LOAD_HEADERS: 'a: 1\nb: 2' }).header, [
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  it('names the flag of a bad value', () => {
    rejects(() => load(['http://x', '--connections', '0']), /--connections/);
    rejects(() => load(['http://x', '--method', 'BREW']), /--method/);
    rejects(() => load(['http://x', '--method', 'HEAD']), /--method/);
    rejects(() => load(['http://x', '--duration', 'forever']), /--duration/);
  });
});

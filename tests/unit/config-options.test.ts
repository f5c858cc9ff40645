import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadBalancerConfig } from '../../balancer/config.js';
import { loadBackendConfig } from '../../backend/config.js';
import { ConfigError } from '../../common/config/options.js';
import { parseDuration } from '../../common/config/values.js';

const load = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  loadBalancerConfig({
    argv,
    env,
    readFile: (p) => {
      if (!(p in files)) throw new Error(`ENOENT: no such file '${p}'`);
      return files[p]!;
    },
  }).config;

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('balancer config', () => {
  it('has the documented defaults', () => {
    const c = load([]);
    assert.equal(c.port, 9090);
    assert.equal(c.adminPort, 9091);
    assert.equal(c.adminHost, '127.0.0.1');
    assert.equal(c.strategy, 'round-robin');
    assert.equal(c.engine, 'raw');
    assert.equal(c.redis, undefined);
    assert.equal(c.healthRise, 2);
    assert.equal(c.healthFall, 3);
    assert.equal(c.listenShards, process.platform === 'linux' || process.platform === 'freebsd' ? 64 : 1);
    assert.ok(Object.isFrozen(c));
  });

  it('--engine takes raw or undici; the retired http-proxy engine fails at start, naming the flag', () => {
    assert.equal(load(['--engine', 'undici']).engine, 'undici');
    rejects(() => load(['--engine', 'http-proxy']), /--engine.*expected one of: raw, undici/);
    rejects(() => load([], { SWITCHYARD_ENGINE: 'http-proxy' }), /engine/i);
  });

  it('--listener takes llhttp (the default) or http-server, and a bad value fails at start naming the flag', () => {
    assert.equal(load([]).listener, 'llhttp');
    assert.equal(load(['--listener', 'http-server']).listener, 'http-server');
    assert.equal(load([], { SWITCHYARD_LISTENER: 'http-server' }).listener, 'http-server');
    rejects(() => load(['--listener', 'node']), /--listener.*expected one of: llhttp, http-server/);
  });

  it('--listen-shards takes 1 to 1024 and names itself when out of range', () => {
    assert.equal(load(['--listen-shards', '1']).listenShards, 1);
    assert.equal(load([], { SWITCHYARD_LISTEN_SHARDS: '16' }).listenShards, 16);
    rejects(() => load(['--listen-shards', '0']), /--listen-shards/);
    rejects(() => load(['--listen-shards', '1025']), /--listen-shards/);
    rejects(() => load(['--listen-shards', 'many']), /--listen-shards/);
  });

  it('takes flags over env over the config file', () => {
    const files = { '/c.json': JSON.stringify({ port: 7000, strategy: 'random', retries: 5 }) };
    const c = load(['--port', '8000', '--config', '/c.json'], { SWITCHYARD_PORT: '7500', SWITCHYARD_RETRIES: '4' }, files);
    assert.equal(c.port, 8000);
    assert.equal(c.retries, 4);
    assert.equal(c.strategy, 'random');
  });

  it('parses --name=value, switches and --no-switches', () => {
    const c = load(['--port=1234', '--no-backend-header', '--trust-forwarded', '--health-interval', '1.5s']);
    assert.equal(c.port, 1234);
    assert.equal(c.backendHeader, false);
    assert.equal(c.trustForwarded, true);
    assert.equal(c.healthInterval, 1500);
  });

  it('reads static backends in the seeds flag style, with optional ids', () => {
    const c = load(['--backends', 'http://localhost:8081, b2=http://127.0.0.1:8082']);
    assert.deepEqual(
      c.staticBackends.map((b) => [b.id, b.url]),
      [
        ['localhost:8081', 'http://localhost:8081'],
        ['b2', 'http://127.0.0.1:8082'],
      ],
    );
  });

  it('reads REDIS_URL', () => {
    assert.equal(load([], { REDIS_URL: 'redis://10.0.0.2:6380/1' }).redis, 'redis://10.0.0.2:6380/1');
  });

  const bad: [string, string[], Record<string, string>, RegExp][] = [
    ['a bad port flag', ['--port', 'abc'], {}, /invalid value 'abc' for --port: expected a port number/],
    ['a port out of range', ['--port', '70000'], {}, /for --port: expected a port number from 0 to 65535/],
    ['a bad port in env', [], { SWITCHYARD_PORT: '-1' }, /for environment variable SWITCHYARD_PORT/],
    ['an unknown strategy', ['--strategy', 'fastest'], {}, /invalid value 'fastest' for --strategy: expected one of: round-robin, random/],
    ['an unknown strategy in env', [], { SWITCHYARD_STRATEGY: 'nope' }, /environment variable SWITCHYARD_STRATEGY: expected one of/],
    ['a backend URL that is not http', ['--backends', 'ftp://x:1'], {}, /--backends: backend 'ftp:\/\/x:1': url 'ftp:\/\/x:1' is not an http\(s\) origin/],
    ['a backend URL with a path', ['--backends', 'http://x:1/api'], {}, /--backends: backend 'http:\/\/x:1\/api'/],
    ['a duplicate backend id', ['--backends', 'a=http://x:1,a=http://x:2'], {}, /id 'a' is given twice/],
    ['an unknown flag', ['--prot', '80'], {}, /unknown option --prot \(did you mean --port\?\)/],
    ['a flag without its value', ['--port'], {}, /--port needs a value/],
    ['a bad redis URL', ['--redis', 'http://x'], {}, /--redis: expected a redis:\/\/ or rediss:\/\/ URL/],
    ['a bad duration', ['--health-interval', 'soon'], {}, /--health-interval: expected a duration/],
    [
      'a timeout above the interval',
      ['--health-interval', '1s', '--health-timeout', '2s'],
      {},
      /--health-timeout \(2000ms\) must not exceed --health-interval/,
    ],
    ['a short admin token', ['--admin-token', 'abc'], {}, /--admin-token: expected a token of at least 8 characters/],
    ['a stray argument', ['extra'], {}, /unexpected argument 'extra'/],
  ];
  for (const [what, argv, env, pattern] of bad) {
    it(`fails at start on ${what}, naming it`, () => rejects(() => load(argv, env), pattern));
  }

  it('names the config file key at fault', () => {
    const files = { '/c.json': JSON.stringify({ port: 'x' }) };
    rejects(() => load(['--config', '/c.json'], {}, files), /key 'port' of config file \/c.json/);
    rejects(() => load(['--config', '/c.json'], {}, { '/c.json': '{"prot": 1}' }), /unknown key 'prot'.*did you mean 'port'/);
    rejects(() => load(['--config', '/missing.json']), /cannot read config file '\/missing.json'/);
    rejects(() => load([], { SWITCHYARD_CONFIG: '/c.json' }, { '/c.json': '[1]' }), /must hold a JSON object/);
  });
});

describe('secrets from files (*_FILE)', () => {
  it('reads a variable from the file its _FILE twin names, without the trailing newline', () => {
    const files = { '/run/secrets/redis_url': 'redis://balancer:s3cret-pass@redis:6379\n', '/run/secrets/token': 'abcdefgh12345678\n' };
    const c = load([], { REDIS_URL_FILE: '/run/secrets/redis_url', SWITCHYARD_ADMIN_TOKEN_FILE: '/run/secrets/token' }, files);
    assert.equal(c.redis, 'redis://balancer:s3cret-pass@redis:6379');
    assert.equal(c.adminToken, 'abcdefgh12345678');
  });

  it('lets the plain variable win over its _FILE twin, and a flag over both', () => {
    const files = { '/t': 'from-the-file-123' };
    assert.equal(load([], { SWITCHYARD_ADMIN_TOKEN: 'from-the-env-123', SWITCHYARD_ADMIN_TOKEN_FILE: '/t' }, files).adminToken, 'from-the-env-123');
    assert.equal(load(['--admin-token', 'from-the-flag-1'], { SWITCHYARD_ADMIN_TOKEN_FILE: '/t' }, files).adminToken, 'from-the-flag-1');
  });

  it('names the variable and the file when the file is missing or empty', () => {
    rejects(() => load([], { SWITCHYARD_ADMIN_TOKEN_FILE: '/nope' }), /SWITCHYARD_ADMIN_TOKEN_FILE '\/nope'/);
    rejects(() => load([], { SWITCHYARD_ADMIN_TOKEN_FILE: '/empty' }, { '/empty': '\n' }), /SWITCHYARD_ADMIN_TOKEN_FILE '\/empty' is empty/);
  });

  it('never shows a secret value in an error', () => {
    assert.throws(
      () => load([], { SWITCHYARD_ADMIN_TOKEN_FILE: '/short' }, { '/short': 'tiny' }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('tiny') && /SWITCHYARD_ADMIN_TOKEN_FILE/.test(err.message),
    );
    assert.throws(
      () => load(['--redis', 'http://user:hunter2-password@x']),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('hunter2') && /--redis/.test(err.message),
    );
  });
});

describe('backend config', () => {
  it('defaults its id to hostname:port and reads PORT', () => {
    const { config } = loadBackendConfig({ argv: [], env: { PORT: '8088' } });
    assert.equal(config.port, 8088);
    assert.match(config.id, /:8088$/);
  });

  it('rejects an error rate above 1', () => {
    rejects(() => loadBackendConfig({ argv: ['--error-rate', '1.5'], env: {} }), /--error-rate: expected a number from 0 to 1/);
  });
});

describe('durations', () => {
  const table: [string, number | undefined][] = [
    ['250', 250],
    ['250ms', 250],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['2 s', 2000],
    ['-1s', undefined],
    ['s', undefined],
    ['1d', undefined],
  ];
  for (const [text, ms] of table) it(`parses '${text}'`, () => assert.equal(parseDuration(text), ms));
});

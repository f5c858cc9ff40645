import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haproxyConfig, nginxBackendConfig, nginxProxyConfig, WRK_REPORT_LUA } from '../../cli/bench/configs.js';

const ups = [
  { host: '127.0.0.1', port: 18081 },
  { host: '127.0.0.1', port: 18082 },
];

describe('bench server configurations', () => {
  it('nginx proxy: round robin over both backends, HTTP/1.1 upstream keep-alive of at least the client connections', () => {
    const conf = nginxProxyConfig({ dir: '/tmp/x', port: 19000, upstreams: ups, workers: 2, keepalive: 256 });
    assert.match(conf, /^worker_processes 2;$/m);
    assert.match(conf, /^daemon off;$/m);
    assert.match(conf, /server 127\.0\.0\.1:18081;\n\s+server 127\.0\.0\.1:18082;/);
    assert.match(conf, /keepalive 256;/);
    assert.match(conf, /proxy_http_version 1\.1;/);
    assert.match(conf, /proxy_set_header Connection "";/);
    assert.match(conf, /listen 127\.0\.0\.1:19000;/);
    assert.match(conf, /access_log off;/);
    assert.ok(!/balance|least_conn|ip_hash/.test(conf), 'plain round robin');
  });

  it('nginx backend: one server per port, loopback only, temp files in its own directory', () => {
    const conf = nginxBackendConfig({ dir: '/tmp/b', ports: [1, 2] });
    assert.equal((conf.match(/listen 127\.0\.0\.1:\d+;/g) ?? []).length, 2);
    assert.match(conf, /proxy_temp_path \/tmp\/b\/proxy_temp;/);
    assert.match(conf, /pid \/tmp\/b\/nginx\.pid;/);
  });

  it('HAProxy: roundrobin, http-reuse always, the thread count asked for', () => {
    const conf = haproxyConfig({ port: 19001, upstreams: ups, threads: 2, maxconn: 4096 });
    assert.match(conf, /nbthread 2/);
    assert.match(conf, /http-reuse always/);
    assert.match(conf, /balance roundrobin/);
    assert.match(conf, /server s1 127\.0\.0\.1:18081\n\s+server s2 127\.0\.0\.1:18082/);
    assert.match(conf, /bind 127\.0\.0\.1:19001/);
  });

  it('the wrk hook prints one JSON line with p99.9 and every error kind', () => {
    assert.match(WRK_REPORT_LUA, /latency:percentile\(99\.9\)/);
    for (const k of ['connect', 'read', 'write', 'status', 'timeout']) assert.ok(WRK_REPORT_LUA.includes(`e.${k}`));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { haproxyConfig, nginxBackendConfig, nginxProxyConfig, WRK_REPORT_LUA } from '../../cli/bench/configs.js';
import { PROXY_IDS, PROXY_LABELS, protocolOf, REFERENCE_ROWS } from '../../cli/bench/targets.js';

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

  it('HTTPS: nginx and HAProxy terminate TLS 1.2/1.3 with the same certificate and offer h2 beside http/1.1', () => {
    const tls = { cert: '/tmp/t/cert.pem', key: '/tmp/t/key.pem', combined: '/tmp/t/combined.pem' };
    const ngx = nginxProxyConfig({ dir: '/tmp/x', port: 19443, upstreams: ups, workers: 1, keepalive: 64, tls });
    assert.match(ngx, /listen 127\.0\.0\.1:19443 ssl http2;/);
    assert.match(ngx, /ssl_certificate \/tmp\/t\/cert\.pem;\n\s+ssl_certificate_key \/tmp\/t\/key\.pem;/);
    assert.match(ngx, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
    assert.match(ngx, /http2_max_concurrent_streams 100;/);
    const ha = haproxyConfig({ port: 19444, upstreams: ups, threads: 2, maxconn: 4096, tls });
    assert.match(ha, /bind 127\.0\.0\.1:19444 ssl crt \/tmp\/t\/combined\.pem alpn h2,http\/1\.1 ssl-min-ver TLSv1\.2/);
    assert.ok(!/ssl/.test(haproxyConfig({ port: 1, upstreams: ups, threads: 2, maxconn: 1 })), 'plain without tls');
  });

  it('every proxy id has a protocol, and each protocol its nginx and Switchyard reference rows', () => {
    assert.equal(protocolOf('switchyard'), 'http');
    assert.equal(protocolOf('haproxy-tls'), 'https');
    assert.equal(protocolOf('nginx-h2'), 'h2');
    for (const p of ['http', 'https', 'h2'] as const) {
      assert.equal(protocolOf(REFERENCE_ROWS[p].nginx), p);
      assert.equal(protocolOf(REFERENCE_ROWS[p].switchyard), p);
    }
    for (const id of PROXY_IDS) assert.ok(PROXY_LABELS[id].length > 0);
  });
});

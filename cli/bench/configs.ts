/**
 * Configuration files of the servers the bench runs, as pure functions of
 * ports and directories so they can be read and tested without running.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A certificate and its key, apart (nginx, Switchyard) and in one file (HAProxy). */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly combined: string;
}

const TEMP_PATHS = (dir: string): string[] =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k}_temp;`);

/** nginx as the fast backend: one worker, one `server` per port answering a small JSON body. */
export function nginxBackendConfig(opts: { dir: string; ports: readonly number[]; workers?: number }): string {
  return [
    `worker_processes ${opts.workers ?? 1};`,
    'daemon off;',
    `pid ${opts.dir}/nginx.pid;`,
    'error_log stderr warn;',
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    '  keepalive_requests 1000000;',
    '  keepalive_timeout 65s;',
    ...TEMP_PATHS(opts.dir),
    ...opts.ports.map((p, i) =>
      [
        `  server {`,
        `    listen 127.0.0.1:${p};`,
        `    default_type application/json;`,
        `    location / { return 200 '{"id":"nginx-${i + 1}","ok":true}\\n'; }`,
        `  }`,
      ].join('\n'),
    ),
    '}',
    '',
  ].join('\n');
}

/**
 * nginx as an equal round-robin proxy with upstream keep-alive: HTTP/1.1
 * upstream, `Connection` cleared, and an idle-connection cache per worker
 * of at least the client connections (`keepalive` below that makes nginx
 * churn upstream connections). With `tls`, the port terminates TLS 1.2/1.3
 * and offers h2 beside http/1.1, 100 streams per connection (Switchyard's
 * default limit).
 */
export function nginxProxyConfig(opts: { dir: string; port: number; upstreams: readonly HostPort[]; workers: number; keepalive: number; tls?: TlsFiles | undefined }): string {
  return [
    `worker_processes ${opts.workers};`,
    'daemon off;',
    `pid ${opts.dir}/nginx.pid;`,
    'error_log stderr warn;',
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    '  keepalive_requests 1000000;',
    '  keepalive_timeout 65s;',
    ...TEMP_PATHS(opts.dir),
    '  upstream backends {',
    ...opts.upstreams.map((u) => `    server ${u.host}:${u.port};`),
    `    keepalive ${opts.keepalive};`,
    '    keepalive_requests 1000000;',
    '    keepalive_timeout 65s;',
    '  }',
    '  server {',
    ...(opts.tls
      ? [
          `    listen 127.0.0.1:${opts.port} ssl http2;`,
          `    ssl_certificate ${opts.tls.cert};`,
          `    ssl_certificate_key ${opts.tls.key};`,
          '    ssl_protocols TLSv1.2 TLSv1.3;',
          '    http2_max_concurrent_streams 100;',
        ]
      : [`    listen 127.0.0.1:${opts.port};`]),
    '    location / {',
    '      proxy_pass http://backends;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * HAProxy as an equal round-robin proxy: `nbthread` threads, upstream
 * connections reused always; with `tls`, the bind terminates TLS 1.2/1.3 and
 * offers h2 and http/1.1 (as the nginx and Switchyard HTTPS ports do).
 */
export function haproxyConfig(opts: { port: number; upstreams: readonly HostPort[]; threads: number; maxconn: number; tls?: TlsFiles | undefined }): string {
  return [
    'global',
    `  nbthread ${opts.threads}`,
    `  maxconn ${opts.maxconn}`,
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  http-reuse always',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 60s',
    '',
    'frontend fe',
    opts.tls ? `  bind 127.0.0.1:${opts.port} ssl crt ${opts.tls.combined} alpn h2,http/1.1 ssl-min-ver TLSv1.2` : `  bind 127.0.0.1:${opts.port}`,
    '  default_backend be',
    '',
    'backend be',
    '  balance roundrobin',
    ...opts.upstreams.map((u, i) => `  server s${i + 1} ${u.host}:${u.port}`),
    '',
  ].join('\n');
}

/** wrk's Lua hook printing one JSON line with the figures wrk's text output lacks (p99.9, error kinds). */
export const WRK_REPORT_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
`;

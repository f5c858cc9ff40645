import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseBackendList, type BackendSpec } from '../common/backend.js';
import { AddressList } from './forward/client-rules.js';
import { parseRateLimitKey, parseRateLimitRules } from './edge/rate-limit-rules.js';
import { ConfigError, loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../common/config/options.js';
import type { RedisTarget } from '../common/registry/redis-connection.js';
import { loadRedisTarget, redisOptions } from '../common/config/redis-options.js';
import { boolean, decimal, duration, integer, listOf, oneOf, port, text } from '../common/config/values.js';
import { LOG_LEVELS } from '../common/logger.js';
import { BACKEND_IDLE_MS, ENGINE_NAMES, LISTENER_NAMES } from './forward/forwarder.js';
import { isLoopbackName } from './admin/host-allowlist.js';
import { STREAM_DEFAULTS } from './admin/live-stream.js';
import { SESSION_DEFAULTS } from './admin/session-store.js';
import { configuredAddresses } from './self-addresses.js';
import { STRATEGY_NAMES } from './strategies/index.js';
import { LISTEN_SHARDS_DEFAULT, reusePortSupported } from './listen-shards.js';

export const BALANCER_OPTIONS = {
  port: option({ type: port(), flag: 'port', env: ['SWITCHYARD_PORT'], default: 9090, help: 'Port the proxy listens on.', group: 'Proxy' }),
  host: option({ type: text({ min: 1 }), flag: 'host', env: ['SWITCHYARD_HOST'], default: '0.0.0.0', help: 'Address the proxy binds to.', group: 'Proxy' }),
  backends: option({
    type: listOf(text({ min: 1 }), 'backend URLs, each optionally id=URL'),
    flag: 'backends',
    env: ['SWITCHYARD_BACKENDS'],
    default: [] as string[],
    help: 'Static backends written into the registry at start, e.g. http://127.0.0.1:8081,b2=http://127.0.0.1:8082.',
    group: 'Proxy',
  }),
  strategy: option({
    type: oneOf(STRATEGY_NAMES),
    flag: 'strategy',
    env: ['SWITCHYARD_STRATEGY'],
    default: 'round-robin',
    help: 'Load-balancing strategy.',
    group: 'Proxy',
  }),
  engine: option({
    type: oneOf(ENGINE_NAMES),
    flag: 'engine',
    env: ['SWITCHYARD_ENGINE'],
    default: 'raw',
    help: "Forwarding engine, how attempts reach backends: raw (default: keep-alive pools of net sockets parsed by Node's llhttp, the cheapest) or undici (an undici Pool per backend, documented APIs only). Both run the same request core behind the same listener. (http-proxy, a forwarding engine until 2026-12, is kept only for WebSocket tunnels.)",
    group: 'Proxy',
  }),
  listener: option({
    type: oneOf(LISTENER_NAMES),
    flag: 'listener',
    env: ['SWITCHYARD_LISTENER'],
    default: 'llhttp',
    help: "How client connections are read: llhttp (default: Node's llhttp parser on the sockets, the cheapest; upgrades are handed to http.Server) or http-server (Node's http.Server for every request, documented APIs only; with --engine undici the fallback for a Node whose llhttp binding the balancer cannot use).",
    group: 'Proxy',
  }),
  requestTimeout: option({
    type: duration(0, 3_600_000),
    flag: 'request-timeout',
    env: ['SWITCHYARD_REQUEST_TIMEOUT'],
    default: 30_000,
    help: "Time from a request's arrival to its response head over all attempts; no retry starts after it, each attempt waits at most what is left (504 when it runs out). 0: no overall deadline.",
    group: 'Proxy',
  }),
  retryBodyLimit: option({
    type: integer(0, 16 * 1024 * 1024),
    flag: 'retry-body-limit',
    env: ['SWITCHYARD_RETRY_BODY_LIMIT'],
    default: 65_536,
    help: 'Request bodies up to this many bytes are kept, once received in full, and replayed when an idempotent request is retried after it was sent (every engine). 0: a sent body is never replayed.',
    group: 'Proxy',
  }),
  retries: option({
    type: integer(0, 10),
    flag: 'retries',
    env: ['SWITCHYARD_RETRIES'],
    default: 2,
    help: 'Further attempts on other backends after a connect failure, or a reset of an idempotent request without body.',
    group: 'Proxy',
  }),
  connectTimeout: option({
    type: duration(1, 60_000),
    flag: 'connect-timeout',
    env: ['SWITCHYARD_CONNECT_TIMEOUT'],
    default: 2000,
    help: 'Time allowed to open a connection to a backend; exceeded: try another backend, else 504.',
    group: 'Proxy',
  }),
  upstreamTimeout: option({
    type: duration(1, 3_600_000),
    flag: 'upstream-timeout',
    env: ['SWITCHYARD_UPSTREAM_TIMEOUT'],
    default: 30_000,
    help: 'Time allowed for a backend to start its response; exceeded: 504.',
    group: 'Proxy',
  }),
  upstreamIdleTimeout: option({
    type: duration(1, 3_600_000),
    flag: 'upstream-idle-timeout',
    env: ['SWITCHYARD_UPSTREAM_IDLE_TIMEOUT'],
    default: 60_000,
    help: 'Longest pause allowed between two chunks of a response body.',
    group: 'Proxy',
  }),
  backendConnections: option({
    type: integer(1, 65_535),
    flag: 'backend-connections',
    env: ['SWITCHYARD_BACKEND_CONNECTIONS'],
    default: 256,
    help: 'Most connections kept open to one backend; more requests wait for a free one.',
    group: 'Proxy',
  }),
  backendIdleTimeout: option({
    type: duration(100, 3_600_000),
    flag: 'backend-idle-timeout',
    env: ['SWITCHYARD_BACKEND_IDLE_TIMEOUT'],
    default: BACKEND_IDLE_MS,
    help: "How long an idle backend connection is kept for the next request; a backend's Keep-Alive: timeout=N hint shortens it to N - 1 s.",
    group: 'Proxy',
  }),
  backendHeader: option({
    type: boolean(),
    flag: 'backend-header',
    env: ['SWITCHYARD_BACKEND_HEADER'],
    default: true,
    help: 'Add X-Backend: <id> to responses (--no-backend-header to hide backend ids).',
    group: 'Proxy',
  }),
  trustForwarded: option({
    type: boolean(),
    flag: 'trust-forwarded',
    env: ['SWITCHYARD_TRUST_FORWARDED'],
    default: false,
    help: "Keep every peer's X-Forwarded-* headers and append to them, the client being the leftmost X-Forwarded-For entry: any client can then claim any address. Prefer --trusted-proxies.",
    group: 'Clients',
  }),
  trustedProxies: option({
    type: listOf(text({ min: 1 }), 'addresses or networks (CIDR)'),
    flag: 'trusted-proxies',
    env: ['SWITCHYARD_TRUSTED_PROXIES'],
    default: [] as string[],
    help: 'Proxies in front of the balancer (addresses or CIDRs, IPv4 and IPv6): only connections from them keep X-Forwarded-*, Forwarded and X-Real-IP, and the client is the rightmost X-Forwarded-For address that is not one of them. From anyone else those headers are dropped and the client is the peer.',
    group: 'Clients',
  }),
  allowClients: option({
    type: listOf(text({ min: 1 }), 'addresses or networks (CIDR)'),
    flag: 'allow-clients',
    env: ['SWITCHYARD_ALLOW_CLIENTS'],
    default: [] as string[],
    help: 'When set, only these clients (addresses or CIDRs) are served; any other gets 403 SWY_FORBIDDEN.',
    group: 'Clients',
  }),
  denyClients: option({
    type: listOf(text({ min: 1 }), 'addresses or networks (CIDR)'),
    flag: 'deny-clients',
    env: ['SWITCHYARD_DENY_CLIENTS'],
    default: [] as string[],
    help: 'Clients (addresses or CIDRs) answered 403 SWY_FORBIDDEN, checked before --allow-clients.',
    group: 'Clients',
  }),
  maxHeaderSize: option({
    type: integer(1024, 1_048_576),
    flag: 'max-header-size',
    env: ['SWITCHYARD_MAX_HEADER_SIZE'],
    default: 16_384,
    help: 'Largest request head accepted, in bytes; larger gets 431.',
    group: 'Proxy',
  }),
  maxHeaders: option({
    type: integer(8, 10_000),
    flag: 'max-headers',
    env: ['SWITCHYARD_MAX_HEADERS'],
    default: 100,
    help: 'Most header fields a request may carry; more gets 431 (HAProxy allows 101).',
    group: 'Client limits',
  }),
  maxBodySize: option({
    type: integer(0, Number.MAX_SAFE_INTEGER),
    flag: 'max-body-size',
    env: ['SWITCHYARD_MAX_BODY_SIZE'],
    default: 0,
    help: 'Largest request body in bytes; larger gets 413 (a declared one before any byte is read). 0: no limit, as HAProxy and Envoy (nginx: 1 MiB).',
    group: 'Client limits',
  }),
  requestBuffer: option({
    type: integer(0, 64 * 1024 * 1024),
    flag: 'request-buffer',
    env: ['SWITCHYARD_REQUEST_BUFFER'],
    default: 65_536,
    help: 'Request bodies up to this many bytes are received in full before the request takes an admission slot or a backend connection (so a slow client costs no backend anything) and go upstream with Content-Length; larger ones stream. At least --retry-body-limit.',
    group: 'Client limits',
  }),
  requestBufferTotal: option({
    type: integer(0, 16 * 1024 * 1024 * 1024),
    flag: 'request-buffer-total',
    env: ['SWITCHYARD_REQUEST_BUFFER_TOTAL'],
    default: 64 * 1024 * 1024,
    help: 'Bytes all buffered request bodies may hold together; past it, bodies stream instead.',
    group: 'Client limits',
  }),
  clientBodyTimeout: option({
    type: duration(100, 3_600_000),
    flag: 'client-body-timeout',
    env: ['SWITCHYARD_CLIENT_BODY_TIMEOUT'],
    default: 30_000,
    help: 'A request body that sends nothing for this long gets 408 and its connection closes (nginx client_body_timeout).',
    group: 'Client limits',
  }),
  clientSendTimeout: option({
    type: duration(100, 3_600_000),
    flag: 'client-send-timeout',
    env: ['SWITCHYARD_CLIENT_SEND_TIMEOUT'],
    default: 60_000,
    help: 'A client that takes no response bytes for this long is cut and its backend connection freed (nginx send_timeout).',
    group: 'Client limits',
  }),
  upgradeProtocols: option({
    type: listOf(text({ min: 1, max: 64, pattern: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, expected: 'a protocol name' }), 'protocol names'),
    flag: 'upgrade-protocols',
    env: ['SWITCHYARD_UPGRADE_PROTOCOLS'],
    default: ['websocket'] as string[],
    help: 'Upgrade protocols tunnelled to backends; any other Upgrade (h2c) is ignored and the request served as plain HTTP/1.1. Empty: no tunnels.',
    group: 'Client limits',
  }),
  viaName: option({
    type: text({ min: 1, max: 64, pattern: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, expected: 'a token (letters, digits, - . _ ~)' }),
    flag: 'via-name',
    env: ['SWITCHYARD_VIA_NAME'],
    help: "This deployment's pseudonym in Via; a request already carrying it is a loop (508). Default: derived from the registry (the same for every balancer on one Redis prefix) or, in memory, from host and port.",
    group: 'Client limits',
  }),
  keepAliveTimeout: option({
    type: duration(0, 600_000),
    flag: 'keepalive-timeout',
    env: ['SWITCHYARD_KEEPALIVE_TIMEOUT'],
    default: 5000,
    help: 'How long an idle client connection is kept open.',
    group: 'Proxy',
  }),
  rateLimits: option({
    type: listOf(text({ min: 1 }), 'rules'),
    flag: 'rate-limits',
    env: ['SWITCHYARD_RATE_LIMITS'],
    default: [] as string[],
    help: 'Rate limits by client: <path prefix>=<n>/<s|m|h>[ burst <n>], comma-separated (e.g. "/=100/s burst 200,/login=5/m"); the longest matching prefix counts. Past it: 429 SWY_RATE_LIMITED with Retry-After and RateLimit headers. Counted per balancer process unless --edge-store redis shares them.',
    group: 'Rate limits',
  }),
  rateLimitKey: option({
    type: text({ min: 2 }),
    flag: 'rate-limit-key',
    env: ['SWITCHYARD_RATE_LIMIT_KEY'],
    default: 'ip',
    help: 'What a client is counted by: ip (the client address, see --trusted-proxies), header:<name> or cookie:<name> (their address when absent). Use a header or cookie only when something you trust sets it.',
    group: 'Rate limits',
  }),
  rateLimitMaxClients: option({
    type: integer(100, 10_000_000),
    flag: 'rate-limit-max-clients',
    env: ['SWITCHYARD_RATE_LIMIT_MAX_CLIENTS'],
    default: 100_000,
    help: 'Clients tracked per rate-limit rule, and by the ban list (memory bound); past it, clients not yet tracked share one bucket, and are not counted towards a ban.',
    group: 'Rate limits',
  }),
  banAfter: option({
    type: integer(0, 1_000_000),
    flag: 'ban-after',
    env: ['SWITCHYARD_BAN_AFTER'],
    default: 0,
    help: 'Ban a client refused this many times within --ban-window (rate limited, or a request the policy refuses): its requests are answered 403 SWY_BANNED for --ban-duration. 0: no bans. Listed and lifted at /bans on the admin API.',
    group: 'Rate limits',
  }),
  banWindow: option({
    type: duration(1000, 86_400_000),
    flag: 'ban-window',
    env: ['SWITCHYARD_BAN_WINDOW'],
    default: 60_000,
    help: 'The window in which --ban-after refusals ban a client.',
    group: 'Rate limits',
  }),
  banDuration: option({
    type: duration(1000, 604_800_000),
    flag: 'ban-duration',
    env: ['SWITCHYARD_BAN_DURATION'],
    default: 600_000,
    help: 'How long a ban lasts.',
    group: 'Rate limits',
  }),
  proxyProtocol: option({
    type: boolean(),
    flag: 'proxy-protocol',
    env: ['SWITCHYARD_PROXY_PROTOCOL'],
    default: false,
    help: 'Connections from --trusted-proxies peers start with a PROXY protocol header (v1 or v2: HAProxy, an NLB, an ingress set up for it), on every port; the address it names is the client. Their connections without a valid header within 5 s are closed; other peers are never read for one.',
    group: 'Clients',
  }),
  edgeStore: option({
    type: oneOf(['memory', 'redis'] as const),
    flag: 'edge-store',
    env: ['SWITCHYARD_EDGE_STORE'],
    default: 'memory' as 'memory' | 'redis',
    help: "Where rate-limit buckets and ban strikes are counted: memory (each balancer process counts its own) or redis (the registry's Redis: one limit and one ban list for every balancer and --workers process; needs --redis and --rate-limits or --ban-after).",
    group: 'Rate limits',
  }),
  edgeStoreFailure: option({
    type: oneOf(['open', 'closed'] as const),
    flag: 'edge-store-failure',
    env: ['SWITCHYARD_EDGE_STORE_FAILURE'],
    default: 'open' as 'open' | 'closed',
    help: 'With --edge-store redis, while Redis does not answer: open (each balancer goes by its own buckets, so N balancers allow at most N times the limit; strikes are counted locally) or closed (rate-limited paths answer 503 SWY_RATE_LIMIT_UNAVAILABLE).',
    group: 'Rate limits',
  }),
  edgeStoreTimeout: option({
    type: duration(5, 10_000),
    flag: 'edge-store-timeout',
    env: ['SWITCHYARD_EDGE_STORE_TIMEOUT'],
    default: 100,
    help: 'With --edge-store redis, how long a request waits for Redis to answer its rate-limit check before --edge-store-failure applies.',
    group: 'Rate limits',
  }),
  tlsPort: option({
    type: port(),
    flag: 'tls-port',
    env: ['SWITCHYARD_TLS_PORT'],
    help: "Port of the HTTPS listener (off unless set; needs --tls-cert). TLS 1.2 and 1.3 only, the ciphers of docs/edge.md; its connections are served as the proxy port's are.",
    group: 'HTTPS',
  }),
  tlsCert: option({
    type: listOf(text({ min: 1 }), 'certificate entries'),
    flag: 'tls-cert',
    env: ['SWITCHYARD_TLS_CERT'],
    default: [] as string[],
    help: 'Certificates for --tls-port: each entry cert.pem (chain and key in one file) or cert.pem:key.pem. Each is served to clients asking (SNI) for a name it holds (wildcards: one label); the first also to any other name. A certificate whose key does not match fails the start.',
    group: 'HTTPS',
  }),
  httpsRedirect: option({
    type: boolean(),
    flag: 'https-redirect',
    env: ['SWITCHYARD_HTTPS_REDIRECT'],
    default: false,
    help: 'Answer plain-HTTP requests with 308 to the same URL on --tls-port (ACME challenges under /.well-known/acme-challenge/ excepted; a request a trusted proxy forwarded as https is not redirected).',
    group: 'HTTPS',
  }),
  hsts: option({
    type: duration(0, 63_072_000_000),
    flag: 'hsts',
    env: ['SWITCHYARD_HSTS'],
    default: 0,
    help: 'Send Strict-Transport-Security with this max-age on every answer over HTTPS (e.g. 8760h, a year); 0: none.',
    group: 'HTTPS',
  }),
  hstsIncludeSubdomains: option({
    type: boolean(),
    flag: 'hsts-include-subdomains',
    env: ['SWITCHYARD_HSTS_INCLUDE_SUBDOMAINS'],
    default: false,
    help: 'Add includeSubDomains to --hsts.',
    group: 'HTTPS',
  }),
  acmeDomains: option({
    type: listOf(
      text({ min: 1, max: 253, pattern: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, expected: 'a DNS name' }),
      'DNS names',
    ),
    flag: 'acme-domains',
    env: ['SWITCHYARD_ACME_DOMAINS'],
    default: [] as string[],
    help: "Get and renew a certificate for these names automatically (ACME HTTP-01: the CA fetches a token from port 80 of each name, so --port must be reachable there). Kept in the registry's Redis, so every balancer serves it; needs --tls-port, --redis and --acme-key.",
    group: 'HTTPS',
  }),
  acmeDirectory: option({
    type: text({ min: 8, pattern: /^https:\/\//, expected: 'an https:// URL' }),
    flag: 'acme-directory',
    env: ['SWITCHYARD_ACME_DIRECTORY'],
    default: 'https://acme-v02.api.letsencrypt.org/directory',
    help: "The ACME server's directory (Let's Encrypt's by default; its staging one is https://acme-staging-v02.api.letsencrypt.org/directory).",
    group: 'HTTPS',
  }),
  acmeEmail: option({
    type: text({ min: 3, max: 254, pattern: /^[^\s@]+@[^\s@]+$/, expected: 'an email address' }),
    flag: 'acme-email',
    env: ['SWITCHYARD_ACME_EMAIL'],
    help: "Contact address for the ACME account (the CA's expiry and incident mail).",
    group: 'HTTPS',
  }),
  acmeKey: option({
    type: text({ min: 16, max: 4096, expected: 'a secret of at least 16 characters' }),
    flag: 'acme-key',
    env: ['SWITCHYARD_ACME_KEY'],
    secret: true,
    help: 'Secret that seals the ACME account key and certificate keys before they go to Redis (AES-256-GCM); the same on every balancer, never stored in Redis. Best given as a file: SWITCHYARD_ACME_KEY_FILE.',
    group: 'HTTPS',
  }),
  acmeCaCert: option({
    type: text({ min: 1 }),
    flag: 'acme-ca-cert',
    env: ['SWITCHYARD_ACME_CA_CERT'],
    help: "PEM file of the CAs that sign the ACME server's own HTTPS certificate, when the system's do not (a private ACME server).",
    group: 'HTTPS',
  }),
  acmeRenewBefore: option({
    type: duration(60_000, 315_360_000_000),
    flag: 'acme-renew-before',
    env: ['SWITCHYARD_ACME_RENEW_BEFORE'],
    default: 2_592_000_000,
    help: 'Renew the certificate when it has less than this left (720h: 30 days).',
    group: 'HTTPS',
  }),
  acmeCheckInterval: option({
    type: duration(1000, 86_400_000),
    flag: 'acme-check-interval',
    env: ['SWITCHYARD_ACME_CHECK_INTERVAL'],
    default: 3_600_000,
    help: "How often each balancer looks at the certificate's age (a failed order is retried after 30 s, doubling to 1 h).",
    group: 'HTTPS',
  }),
  tlsReloadInterval: option({
    type: duration(0, 3_600_000),
    flag: 'tls-reload-interval',
    env: ['SWITCHYARD_TLS_RELOAD_INTERVAL'],
    default: 1000,
    help: 'How often the certificate files are looked at: changed files are loaded for new connections, open ones keep theirs; a set that fails to load (a key that does not match) is refused and the old one kept. 0: never.',
    group: 'HTTPS',
  }),
  tlsHandshakeTimeout: option({
    type: duration(100, 120_000),
    flag: 'tls-handshake-timeout',
    env: ['SWITCHYARD_TLS_HANDSHAKE_TIMEOUT'],
    default: 10_000,
    help: 'How long a client may take to finish its TLS handshake before its connection is closed.',
    group: 'HTTPS',
  }),
  http2: option({
    type: boolean(),
    flag: 'http2',
    env: ['SWITCHYARD_HTTP2'],
    default: true,
    help: 'Offer HTTP/2 (ALPN h2) on --tls-port beside HTTP/1.1 (--no-http2: HTTP/1.1 only). Each stream goes through the same request core as an HTTP/1.1 request.',
    group: 'HTTPS',
  }),
  h2cPort: option({
    type: port(),
    flag: 'h2c-port',
    env: ['SWITCHYARD_H2C_PORT'],
    help: 'Port for cleartext HTTP/2 with prior knowledge (off unless set; for a TLS-terminating proxy or a client inside the network). An HTTP/1.1 Upgrade: h2c is never honoured on any port.',
    group: 'HTTPS',
  }),
  h2MaxStreams: option({
    type: integer(1, 1000),
    flag: 'h2-max-streams',
    env: ['SWITCHYARD_H2_MAX_STREAMS'],
    default: 100,
    help: 'Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; nginx 128, Envoy 100). A connection that opens at least 100 streams and resets most of them before their answer (rapid reset) is closed.',
    group: 'HTTPS',
  }),
  h2HeaderTableSize: option({
    type: integer(0, 65_536),
    flag: 'h2-header-table-size',
    env: ['SWITCHYARD_H2_HEADER_TABLE_SIZE'],
    default: 0,
    help: "Bytes of HPACK dynamic table for the response headers sent over HTTP/2. 0 (as nginx): each header is sent with the static table and Huffman coding only, about 60 bytes more per response and 8–19 % less CPU per request (measured) than Node's 4096, which indexes repeated headers.",
    group: 'HTTPS',
  }),
  shutdownTimeout: option({
    type: duration(0, 600_000),
    flag: 'shutdown-timeout',
    env: ['SWITCHYARD_SHUTDOWN_TIMEOUT'],
    default: 10_000,
    help: 'On SIGTERM, how long in-flight requests and open client connections may take to finish (a kept-alive connection closes once idle for 1 s).',
    group: 'Proxy',
  }),
  workers: option({
    type: text({ min: 1, max: 4, pattern: /^(auto|[1-9][0-9]?)$/, expected: 'auto or a number of processes from 1 to 99' }),
    flag: 'workers',
    env: ['SWITCHYARD_WORKERS'],
    default: '1',
    help: 'Proxy processes sharing the port (node:cluster); auto = one per CPU. The first process keeps the registry, the health checks and the admin API.',
    group: 'Proxy',
  }),
  workerAccept: option({
    type: oneOf(['shared', 'primary'] as const),
    flag: 'worker-accept',
    env: ['SWITCHYARD_WORKER_ACCEPT'],
    default: 'shared',
    help: 'With --workers: shared = every worker accepts from the one listening socket, as nginx workers do (a new connection never waits for a busy process to hand it over); primary = node:cluster round robin, the first process accepts and passes each connection on (an even spread, but connections opened under load wait for the hand-over).',
    group: 'Proxy',
  }),
  listenShards: option({
    type: integer(1, 1024),
    flag: 'listen-shards',
    env: ['SWITCHYARD_LISTEN_SHARDS'],
    default: LISTEN_SHARDS_DEFAULT,
    help: 'Listening sockets the proxy port is split into (SO_REUSEPORT, one process; Linux and FreeBSD). Node accepts one connection per socket per event-loop turn, so a busy balancer with one socket takes a burst of N new connections N turns to accept; more sockets accept more per turn. The port is checked free in the kernel socket table before and after the group binds (no probe socket that could accept and reset a client), so a second balancer fails with EADDRINUSE. 1: one plain socket.',
    group: 'Proxy',
  }),
  instanceId: option({
    type: text({ min: 1, max: 128 }),
    flag: 'instance-id',
    env: ['SWITCHYARD_INSTANCE_ID'],
    help: 'Name of this balancer in logs and the admin API (default: hostname-pid).',
    group: 'Proxy',
  }),

  hashKey: option({
    type: text({
      min: 1,
      max: 80,
      pattern: /^(ip|path|header:[A-Za-z0-9-]+|cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/,
      expected: 'ip, path, header:NAME or cookie:NAME',
    }),
    flag: 'hash-key',
    env: ['SWITCHYARD_HASH_KEY'],
    default: 'ip',
    help: 'consistent-hash: what a request is hashed on.',
    group: 'Strategy options',
  }),
  hashBalanceFactor: option({
    type: decimal(0, 100),
    flag: 'hash-balance-factor',
    env: ['SWITCHYARD_HASH_BALANCE_FACTOR'],
    default: 0,
    help: 'consistent-hash: bounded load c; no backend takes more than c x the average in-flight load (1.25 = HAProxy hash-balance-factor 125; 0 = off).',
    group: 'Strategy options',
  }),
  hashVnodes: option({
    type: integer(1, 100_000),
    flag: 'hash-vnodes',
    env: ['SWITCHYARD_HASH_VNODES'],
    default: 1024,
    help: 'consistent-hash: ring points of a backend of the largest weight (others in proportion).',
    group: 'Strategy options',
  }),
  hashSeed: option({
    type: integer(0, 2 ** 31 - 1),
    flag: 'hash-seed',
    env: ['SWITCHYARD_HASH_SEED'],
    default: 0,
    help: 'consistent-hash: seed of the hash; balancers that must agree on a mapping use the same.',
    group: 'Strategy options',
  }),
  lrChoiceCount: option({
    type: integer(2, 16),
    flag: 'lr-choice-count',
    env: ['SWITCHYARD_LR_CHOICE_COUNT'],
    default: 2,
    help: 'least-request: backends sampled per pick (power of two choices).',
    group: 'Strategy options',
  }),
  lrActiveRequestBias: option({
    type: decimal(0, 10),
    flag: 'lr-active-request-bias',
    env: ['SWITCHYARD_LR_ACTIVE_REQUEST_BIAS'],
    default: 1,
    help: 'least-request: exponent on in-flight + 1 (Envoy active_request_bias).',
    group: 'Strategy options',
  }),
  dwLatencyHalfLife: option({
    type: duration(10, 600_000),
    flag: 'dw-latency-half-life',
    env: ['SWITCHYARD_DW_LATENCY_HALF_LIFE'],
    default: 2000,
    help: 'dynamic-weighted: half-life of the latency average.',
    group: 'Strategy options',
  }),
  dwMinWeightPercent: option({
    type: integer(1, 100),
    flag: 'dw-min-weight-percent',
    env: ['SWITCHYARD_DW_MIN_WEIGHT_PERCENT'],
    default: 10,
    help: 'dynamic-weighted: floor, in percent of the registry weight, so no healthy backend starves.',
    group: 'Strategy options',
  }),
  dwBlackout: option({
    type: duration(0, 600_000),
    flag: 'dw-blackout',
    env: ['SWITCHYARD_DW_BLACKOUT'],
    default: 10_000,
    help: "dynamic-weighted: a new backend's measurements count only after this long.",
    group: 'Strategy options',
  }),
  dwFailureWindow: option({
    type: duration(1000, 600_000),
    flag: 'dw-failure-window',
    env: ['SWITCHYARD_DW_FAILURE_WINDOW'],
    default: 10_000,
    help: 'dynamic-weighted: window of the failure ratio.',
    group: 'Strategy options',
  }),
  stickyCookie: option({
    type: text({ min: 1, max: 64, pattern: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, expected: 'a cookie name' }),
    flag: 'sticky-cookie',
    env: ['SWITCHYARD_STICKY_COOKIE'],
    help: 'Sticky sessions over any strategy: the cookie that pins a client to a backend (off when unset).',
    group: 'Strategy options',
  }),
  stickySecret: option({
    type: text({ min: 16, max: 256, expected: 'a secret of at least 16 characters' }),
    flag: 'sticky-secret',
    env: ['SWITCHYARD_STICKY_SECRET'],
    help: 'Key that signs sticky cookies; the same on every balancer (required with --sticky-cookie).',
    group: 'Strategy options',
    secret: true,
  }),
  stickyMaxAge: option({
    type: duration(1000, 31_536_000_000),
    flag: 'sticky-max-age',
    env: ['SWITCHYARD_STICKY_MAX_AGE'],
    help: 'Lifetime of the sticky cookie (a session cookie when unset).',
    group: 'Strategy options',
  }),

  outlierConsecutiveFailures: option({
    type: integer(0, 10_000),
    flag: 'outlier-consecutive-failures',
    env: ['SWITCHYARD_OUTLIER_CONSECUTIVE_FAILURES'],
    default: 5,
    help: 'Passive outlier detection: this many 5xx or connect failures in a row eject a backend (0 = off).',
    group: 'Resilience',
  }),
  outlierBaseEjection: option({
    type: duration(100, 3_600_000),
    flag: 'outlier-base-ejection',
    env: ['SWITCHYARD_OUTLIER_BASE_EJECTION'],
    default: 30_000,
    help: 'Ejection time, multiplied by the number of times the backend was ejected.',
    group: 'Resilience',
  }),
  outlierMaxEjection: option({
    type: duration(100, 86_400_000),
    flag: 'outlier-max-ejection',
    env: ['SWITCHYARD_OUTLIER_MAX_EJECTION'],
    default: 300_000,
    help: 'Longest ejection.',
    group: 'Resilience',
  }),
  outlierMaxEjectionPercent: option({
    type: integer(0, 100),
    flag: 'outlier-max-ejection-percent',
    env: ['SWITCHYARD_OUTLIER_MAX_EJECTION_PERCENT'],
    default: 10,
    help: 'Most backends ejected at once, in percent (one may always be ejected).',
    group: 'Resilience',
  }),
  breaker: option({
    type: boolean(),
    flag: 'breaker',
    env: ['SWITCHYARD_BREAKER'],
    default: true,
    help: 'Per-backend circuit breakers (--no-breaker turns them off).',
    group: 'Resilience',
  }),
  breakerFailureRatio: option({
    type: decimal(0.01, 1),
    flag: 'breaker-failure-ratio',
    env: ['SWITCHYARD_BREAKER_FAILURE_RATIO'],
    default: 0.5,
    help: 'A breaker opens when this share of requests in its window failed...',
    group: 'Resilience',
  }),
  breakerMinRequests: option({
    type: integer(1, 100_000),
    flag: 'breaker-min-requests',
    env: ['SWITCHYARD_BREAKER_MIN_REQUESTS'],
    default: 5,
    help: '...and the window holds at least this many requests.',
    group: 'Resilience',
  }),
  breakerWindow: option({
    type: duration(1000, 3_600_000),
    flag: 'breaker-window',
    env: ['SWITCHYARD_BREAKER_WINDOW'],
    default: 10_000,
    help: 'Rolling window of a breaker.',
    group: 'Resilience',
  }),
  breakerOpen: option({
    type: duration(100, 3_600_000),
    flag: 'breaker-open',
    env: ['SWITCHYARD_BREAKER_OPEN'],
    default: 10_000,
    help: 'Time a breaker stays open before letting trial requests through.',
    group: 'Resilience',
  }),
  breakerHalfOpenRequests: option({
    type: integer(1, 1000),
    flag: 'breaker-half-open-requests',
    env: ['SWITCHYARD_BREAKER_HALF_OPEN_REQUESTS'],
    default: 3,
    help: 'Trial requests of a half-open breaker; that many successes close it, one failure opens it again.',
    group: 'Resilience',
  }),
  retryBudgetRatio: option({
    type: decimal(0, 10),
    flag: 'retry-budget-ratio',
    env: ['SWITCHYARD_RETRY_BUDGET_RATIO'],
    default: 0.2,
    help: 'Retries allowed per client request, over the budget window (0.2 = 20 %).',
    group: 'Resilience',
  }),
  retryBudgetMin: option({
    type: decimal(0, 100_000),
    flag: 'retry-budget-min',
    env: ['SWITCHYARD_RETRY_BUDGET_MIN'],
    default: 3,
    help: 'Retries always allowed per second, however little traffic there is.',
    group: 'Resilience',
  }),
  retryBudgetWindow: option({
    type: duration(1000, 600_000),
    flag: 'retry-budget-window',
    env: ['SWITCHYARD_RETRY_BUDGET_WINDOW'],
    default: 10_000,
    help: 'Window the retry budget is counted over.',
    group: 'Resilience',
  }),
  retryOnTimeout: option({
    type: boolean(),
    flag: 'retry-on-timeout',
    env: ['SWITCHYARD_RETRY_ON_TIMEOUT'],
    default: false,
    help: 'Retry an idempotent request whose response head did not come within --upstream-timeout on another backend (a body only when kept for replay), within --request-timeout and the retry budget; as nginx does by default. Off: such a request gets 504 (the backend may still be working on it).',
    group: 'Resilience',
  }),
  retryOnStatus: option({
    type: listOf(integer(400, 599), 'HTTP statuses'),
    flag: 'retry-on-status',
    env: ['SWITCHYARD_RETRY_ON_STATUS'],
    default: [] as number[],
    help: 'Response statuses retried on another backend (idempotent requests without a body, within the budget), e.g. 502,503,504.',
    group: 'Resilience',
  }),
  slowStart: option({
    type: duration(0, 3_600_000),
    flag: 'slow-start',
    env: ['SWITCHYARD_SLOW_START'],
    default: 0,
    help: "A new or recovered backend's share ramps up over this long (0 = off).",
    group: 'Resilience',
  }),
  slowStartAggression: option({
    type: decimal(0.1, 10),
    flag: 'slow-start-aggression',
    env: ['SWITCHYARD_SLOW_START_AGGRESSION'],
    default: 1,
    help: 'Shape of the ramp: 1 is linear, above 1 ramps faster early (Envoy aggression).',
    group: 'Resilience',
  }),
  slowStartMinWeightPercent: option({
    type: integer(1, 100),
    flag: 'slow-start-min-weight-percent',
    env: ['SWITCHYARD_SLOW_START_MIN_WEIGHT_PERCENT'],
    default: 10,
    help: 'Share a ramping backend starts at, in percent of its weight.',
    group: 'Resilience',
  }),
  panicThreshold: option({
    type: integer(0, 100),
    flag: 'panic-threshold',
    env: ['SWITCHYARD_PANIC_THRESHOLD'],
    default: 0,
    help: 'When fewer than this percentage of backends are healthy, balance over all of them (Envoy uses 50; 0 = off).',
    group: 'Resilience',
  }),

  maxInFlight: option({
    type: integer(0, 1_000_000),
    flag: 'max-in-flight',
    env: ['SWITCHYARD_MAX_IN_FLIGHT'],
    default: 4096,
    help: 'Admission control: requests handled at once; more wait in the queue (0 = no cap, no queue).',
    group: 'Admission control',
  }),
  queueSize: option({
    type: integer(0, 1_000_000),
    flag: 'queue-size',
    env: ['SWITCHYARD_QUEUE_SIZE'],
    default: 1024,
    help: 'Requests that may wait for a slot, first in first out; beyond it 503 SWY_QUEUE_FULL.',
    group: 'Admission control',
  }),
  queueTimeout: option({
    type: duration(1, 600_000),
    flag: 'queue-timeout',
    env: ['SWITCHYARD_QUEUE_TIMEOUT'],
    default: 5000,
    help: 'Longest wait in the queue; then 503 SWY_QUEUE_TIMEOUT with Retry-After.',
    group: 'Admission control',
  }),
  adaptiveConcurrency: option({
    type: boolean(),
    flag: 'adaptive-concurrency',
    env: ['SWITCHYARD_ADAPTIVE_CONCURRENCY'],
    default: false,
    help: 'Move the cap between --adaptive-min-limit and --max-in-flight from observed latency (gradient limit).',
    group: 'Admission control',
  }),
  adaptiveMinLimit: option({
    type: integer(1, 1_000_000),
    flag: 'adaptive-min-limit',
    env: ['SWITCHYARD_ADAPTIVE_MIN_LIMIT'],
    default: 8,
    help: 'Lowest cap in adaptive mode.',
    group: 'Admission control',
  }),
  adaptiveInitialLimit: option({
    type: integer(1, 1_000_000),
    flag: 'adaptive-initial-limit',
    env: ['SWITCHYARD_ADAPTIVE_INITIAL_LIMIT'],
    default: 20,
    help: 'Cap at start in adaptive mode.',
    group: 'Admission control',
  }),

  healthChecks: option({
    type: boolean(),
    flag: 'health-checks',
    env: ['SWITCHYARD_HEALTH_CHECKS'],
    default: true,
    help: 'Actively check backends; --no-health-checks routes to every registered backend.',
    group: 'Health checks',
  }),
  healthPath: option({
    type: text({ min: 1, pattern: /^\//, expected: 'a path starting with /' }),
    flag: 'health-path',
    env: ['SWITCHYARD_HEALTH_PATH'],
    default: '/health',
    help: 'Path requested on each backend; 2xx or 3xx passes.',
    group: 'Health checks',
  }),
  healthInterval: option({
    type: duration(50, 3_600_000),
    flag: 'health-interval',
    env: ['SWITCHYARD_HEALTH_INTERVAL'],
    default: 2000,
    help: 'Time between checks of a settled backend (HAProxy inter).',
    group: 'Health checks',
  }),
  healthFastInterval: option({
    type: duration(50, 3_600_000),
    flag: 'health-fast-interval',
    env: ['SWITCHYARD_HEALTH_FAST_INTERVAL'],
    default: 500,
    help: 'Time between checks while a backend is changing state, or after live traffic saw it fail (HAProxy fastinter).',
    group: 'Health checks',
  }),
  healthTimeout: option({
    type: duration(10, 600_000),
    flag: 'health-timeout',
    env: ['SWITCHYARD_HEALTH_TIMEOUT'],
    default: 1000,
    help: 'A check not answered in this time fails.',
    group: 'Health checks',
  }),
  healthRise: option({
    type: integer(1, 100),
    flag: 'health-rise',
    env: ['SWITCHYARD_HEALTH_RISE'],
    default: 2,
    help: 'Consecutive passes that bring an unhealthy backend back.',
    group: 'Health checks',
  }),
  healthFall: option({
    type: integer(1, 100),
    flag: 'health-fall',
    env: ['SWITCHYARD_HEALTH_FALL'],
    default: 3,
    help: 'Consecutive failures that take a healthy backend out (a refused connection takes it out at once).',
    group: 'Health checks',
  }),

  ...redisOptions('Redis registry URL (redis://user:password@host:port/db); without it (and without --redis-sentinels) the registry is in memory.'),
  redisPrefix: option({
    type: text({ min: 1, max: 64, pattern: /^[A-Za-z0-9:_{}.-]+$/, expected: 'letters, digits and : _ - . { }' }),
    flag: 'redis-prefix',
    env: ['SWITCHYARD_REDIS_PREFIX'],
    default: 'switchyard:',
    help: 'Prefix of every registry key in Redis.',
    group: 'Registry',
  }),
  loadReport: option({
    type: duration(0, 60_000),
    flag: 'load-report',
    env: ['SWITCHYARD_LOAD_REPORT'],
    default: 1000,
    help: "With a Redis registry: how often this balancer writes the load it sends each backend (requests open, requests per second) to Redis, where the controller's autoscaler adds it up over every balancer; 0 turns it off.",
    group: 'Registry',
  }),
  registryPoll: option({
    type: duration(50, 600_000),
    flag: 'registry-poll',
    env: ['SWITCHYARD_REGISTRY_POLL'],
    default: 500,
    help: 'How often the registry version is polled to catch changes whose pub/sub message was lost.',
    group: 'Registry',
  }),

  adminPort: option({ type: port(), flag: 'admin-port', env: ['SWITCHYARD_ADMIN_PORT'], default: 9091, help: 'Port of the admin API.', group: 'Admin' }),
  adminHost: option({
    type: text({ min: 1 }),
    flag: 'admin-host',
    env: ['SWITCHYARD_ADMIN_HOST'],
    default: '127.0.0.1',
    help: 'Address the admin API binds to. Any address but loopback (0.0.0.0, ::, a LAN address, a name other than localhost) needs --admin-token, or --admin-insecure-no-token to run it open on purpose.',
    group: 'Admin',
  }),
  adminToken: option({
    type: text({ min: 8, expected: 'a token of at least 8 characters' }),
    flag: 'admin-token',
    env: ['SWITCHYARD_ADMIN_TOKEN'],
    help: 'Bearer token required on every admin route except /healthz, /readyz and the dashboard page (which logs in with it and then uses a session cookie), /metrics and /events included.',
    group: 'Admin',
    secret: true,
  }),
  adminInsecureNoToken: option({
    type: boolean(),
    flag: 'admin-insecure-no-token',
    env: ['SWITCHYARD_ADMIN_INSECURE_NO_TOKEN'],
    default: false,
    help: 'Let the admin API listen on a non-loopback --admin-host without --admin-token: anyone who reaches it can change the backends. Logs a warning at start.',
    group: 'Admin',
  }),
  adminAllowedHosts: option({
    type: listOf(
      text({
        min: 1,
        max: 253,
        pattern: /^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9_.-]+)$/,
        expected: 'a host name or IP address, without port',
      }),
      'host names or addresses',
    ),
    flag: 'admin-allowed-hosts',
    env: ['SWITCHYARD_ADMIN_ALLOWED_HOSTS'],
    default: [] as string[],
    help: 'Names the admin API answers to in Host, besides loopback names (localhost, 127.x, [::1]), a specific --admin-host and the address a connection arrived on; any other Host gets 421 (DNS rebinding). E.g. balancer,admin.internal.',
    group: 'Admin',
  }),
  adminMaxStreams: option({
    type: integer(1, 10_000),
    flag: 'admin-max-streams',
    env: ['SWITCHYARD_ADMIN_MAX_STREAMS'],
    default: STREAM_DEFAULTS.maxClients,
    help: 'Most event streams (/events, the dashboard) open at once; the next gets 503 with Retry-After.',
    group: 'Admin',
  }),
  adminStreamBacklog: option({
    type: integer(16 * 1024, 64 * 1024 * 1024),
    flag: 'admin-stream-backlog',
    env: ['SWITCHYARD_ADMIN_STREAM_BACKLOG'],
    default: STREAM_DEFAULTS.maxBacklogBytes,
    help: 'Bytes an event stream client may leave unread before it is dropped (logged at warn), so a stalled reader holds at most this much memory.',
    group: 'Admin',
  }),
  adminStreamInterval: option({
    type: duration(50, 60_000),
    flag: 'admin-stream-interval',
    env: ['SWITCHYARD_ADMIN_STREAM_INTERVAL'],
    default: STREAM_DEFAULTS.intervalMs,
    help: 'Time between two stats snapshots on the event stream.',
    group: 'Admin',
  }),
  adminSessionTtl: option({
    type: duration(60_000, 7 * 86_400_000),
    flag: 'admin-session-ttl',
    env: ['SWITCHYARD_ADMIN_SESSION_TTL'],
    default: SESSION_DEFAULTS.ttlMs,
    help: `Lifetime of a dashboard login (at most ${SESSION_DEFAULTS.max} are kept; a newer one ends the oldest).`,
    group: 'Admin',
  }),

  explain: option({
    type: boolean(),
    flag: 'explain',
    env: ['SWITCHYARD_EXPLAIN'],
    default: false,
    help: 'Add X-LB-Decision to every response: strategy, candidates, the pick and why others were skipped.',
    group: 'Observability',
  }),
  explainHeader: option({
    type: text({ min: 1, max: 64, pattern: /^[A-Za-z0-9-]+$/, expected: 'a header name' }),
    flag: 'explain-header',
    env: ['SWITCHYARD_EXPLAIN_HEADER'],
    help: 'A request header (e.g. x-lb-explain) that asks for X-LB-Decision on that request only.',
    group: 'Observability',
  }),
  accessLog: option({
    type: boolean(),
    flag: 'access-log',
    env: ['SWITCHYARD_ACCESS_LOG'],
    default: false,
    help: 'Log one JSON line per request (component "access").',
    group: 'Observability',
  }),
  metricsBackendLimit: option({
    type: integer(0, 1_000_000),
    flag: 'metrics-backend-limit',
    env: ['SWITCHYARD_METRICS_BACKEND_LIMIT'],
    default: 100,
    help: 'Backends given their own series in /metrics, in id order; the others are summed under backend="_other" (0 = every backend, which for 10,000 backends is over 30 MB per scrape).',
    group: 'Observability',
  }),
  accessLogSample: option({
    type: decimal(0, 1),
    flag: 'access-log-sample',
    env: ['SWITCHYARD_ACCESS_LOG_SAMPLE'],
    default: 1,
    help: 'Share of requests the access log records.',
    group: 'Observability',
  }),

  logLevel: option({
    type: oneOf(LOG_LEVELS),
    flag: 'log-level',
    env: ['SWITCHYARD_LOG_LEVEL', 'LOG_LEVEL'],
    default: 'info',
    help: 'Log level; nothing is logged per request at info (the access log is separate).',
    group: 'Observability',
  }),
} as const;

export type BalancerOptionValues = OptionValues<typeof BALANCER_OPTIONS>;

export interface BalancerConfig extends BalancerOptionValues {
  readonly instanceId: string;
  /** The Redis registry (--redis or --redis-sentinels); undefined: the registry is in memory. */
  readonly redisTarget: RedisTarget | undefined;
  readonly staticBackends: readonly BackendSpec[];
}

export const BALANCER_HELP = {
  usage: 'switchyard balancer [options]',
  summary: 'Run the load balancer: an HTTP reverse proxy that follows the backend registry, checks backend health and retries failed connections elsewhere.',
  footer: 'Example: switchyard balancer --backends http://127.0.0.1:8081,http://127.0.0.1:8082 --port 9090',
};

export function balancerHelp(): string {
  return renderHelp(BALANCER_OPTIONS, BALANCER_HELP);
}

/** Flags, environment and optional config file into one validated, frozen config. */
export function loadBalancerConfig(sources: OptionSources): { config: BalancerConfig; help: boolean } {
  const { values, help } = loadOptions(BALANCER_OPTIONS, sources);
  let staticBackends: BackendSpec[];
  try {
    staticBackends = parseBackendList(values.backends.join(','));
  } catch (err) {
    throw new ConfigError(`invalid value for --backends: ${(err as Error).message}`);
  }
  const self = configuredAddresses(values);
  const loop = staticBackends.find((b) => self.has(b.url));
  if (loop !== undefined)
    throw new ConfigError(
      `invalid value for --backends: '${loop.url}' is an address of this balancer (--port ${values.port} or --admin-port ${values.adminPort}); requests would loop`,
    );
  if (values.listenShards > 1 && !reusePortSupported())
    throw new ConfigError(
      `invalid value for --listen-shards: ${values.listenShards} needs SO_REUSEPORT (Linux or FreeBSD), not available on ${process.platform}; use 1`,
    );
  for (const [flag, entries] of [
    ['--trusted-proxies', values.trustedProxies],
    ['--allow-clients', values.allowClients],
    ['--deny-clients', values.denyClients],
  ] as const) {
    try {
      AddressList.parse(entries);
    } catch (err) {
      throw new ConfigError(`invalid value for ${flag}: ${(err as Error).message}`);
    }
  }
  try {
    parseRateLimitRules(values.rateLimits);
  } catch (err) {
    throw new ConfigError(`invalid value for --rate-limits: ${(err as Error).message}`);
  }
  try {
    parseRateLimitKey(values.rateLimitKey);
  } catch (err) {
    throw new ConfigError(`invalid value for --rate-limit-key: ${(err as Error).message}`);
  }
  if (values.edgeStore === 'redis' && !values.redis && values.redisSentinels.length === 0)
    throw new ConfigError('--edge-store redis needs a Redis registry (--redis or --redis-sentinels)');
  if (values.edgeStore === 'redis' && values.rateLimits.length === 0 && values.banAfter === 0)
    throw new ConfigError('--edge-store redis shares rate limits and bans: set --rate-limits or --ban-after');
  if (values.proxyProtocol && values.trustedProxies.length === 0)
    throw new ConfigError(
      '--proxy-protocol needs --trusted-proxies: the peers whose connections start with a PROXY header (from anyone else it would let a client name its own address)',
    );
  if (values.trustForwarded && values.trustedProxies.length > 0)
    throw new ConfigError('--trust-forwarded trusts every peer; with --trusted-proxies set, leave it off');
  if (values.tlsPort !== undefined && values.tlsCert.length === 0 && values.acmeDomains.length === 0)
    throw new ConfigError('--tls-port needs --tls-cert (a certificate and its key) or --acme-domains');
  if (values.acmeDomains.length > 0) {
    if (values.tlsPort === undefined) throw new ConfigError('--acme-domains needs --tls-port (the HTTPS listener that serves the certificate)');
    if (!values.redis && values.redisSentinels.length === 0)
      throw new ConfigError(
        '--acme-domains needs a Redis registry (--redis or --redis-sentinels): the certificate and challenges are kept there for every balancer',
      );
    if (!values.acmeKey)
      throw new ConfigError('--acme-domains needs --acme-key (SWITCHYARD_ACME_KEY_FILE): the secret that seals private keys before they go to Redis');
  }
  if (values.acmeCaCert !== undefined) {
    try {
      readFileSync(values.acmeCaCert);
    } catch (err) {
      throw new ConfigError(`invalid value for --acme-ca-cert: ${(err as Error).message}`);
    }
  }
  if (values.tlsPort === undefined && values.tlsCert.length > 0) throw new ConfigError('--tls-cert needs --tls-port (the HTTPS listener is off without it)');
  if ((values.httpsRedirect || values.hsts > 0) && values.tlsPort === undefined)
    throw new ConfigError(`${values.httpsRedirect ? '--https-redirect' : '--hsts'} needs --tls-port (the HTTPS listener)`);
  if (values.httpsRedirect && values.tlsPort === 0) throw new ConfigError('--https-redirect needs a fixed --tls-port, not 0');
  for (const [flag, v] of [
    ['--port', values.port],
    ['--tls-port', values.tlsPort],
  ] as const)
    if (values.h2cPort !== undefined && values.h2cPort !== 0 && values.h2cPort === v) throw new ConfigError(`invalid value for --h2c-port: ${v} is ${flag}`);
  if (values.tlsPort !== undefined && values.tlsPort !== 0 && values.tlsPort === values.port)
    throw new ConfigError(`invalid value for --tls-port: ${values.tlsPort} is the proxy's --port`);
  if (values.stickyCookie && !values.stickySecret)
    throw new ConfigError('--sticky-cookie needs --sticky-secret (a key of at least 16 characters, the same on every balancer)');
  if (values.outlierMaxEjection < values.outlierBaseEjection) throw new ConfigError('--outlier-max-ejection must not be below --outlier-base-ejection');
  if (values.adaptiveConcurrency && values.maxInFlight === 0) throw new ConfigError('--adaptive-concurrency needs --max-in-flight above 0 (its upper bound)');
  if (values.adaptiveConcurrency && values.adaptiveMinLimit > values.maxInFlight) throw new ConfigError('--adaptive-min-limit must not exceed --max-in-flight');
  if (values.requestBuffer < values.retryBodyLimit) {
    throw new ConfigError(
      `--request-buffer (${values.requestBuffer}) must be at least --retry-body-limit (${values.retryBodyLimit}): a replayed body must have been received in full`,
    );
  }
  if (values.requestBufferTotal < values.requestBuffer)
    throw new ConfigError(`--request-buffer-total (${values.requestBufferTotal}) must be at least --request-buffer (${values.requestBuffer})`);
  if (values.healthTimeout > values.healthInterval) {
    throw new ConfigError(`--health-timeout (${values.healthTimeout}ms) must not exceed --health-interval (${values.healthInterval}ms)`);
  }
  if (!values.adminToken && !values.adminInsecureNoToken && !isLoopbackName(values.adminHost)) {
    throw new ConfigError(
      `--admin-host ${values.adminHost} is not a loopback address and no --admin-token is set: anyone who reaches it could register, drain or delete backends. ` +
        'Set --admin-token (SWITCHYARD_ADMIN_TOKEN), bind --admin-host 127.0.0.1, or pass --admin-insecure-no-token to run it open on purpose',
    );
  }
  const config: BalancerConfig = Object.freeze({
    ...values,
    instanceId: values.instanceId ?? `${hostname()}-${process.pid}`,
    staticBackends: Object.freeze(staticBackends),
    redisTarget: loadRedisTarget(values),
  });
  return { config, help };
}

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { ChildSet } from './children.js';
import { haproxyConfig, nginxBackendConfig, nginxProxyConfig, type HostPort } from './configs.js';
import type { BenchCertificate } from './certificate.js';
import { freePort, waitServing } from './net.js';
import type { ToolPaths } from './tools.js';

/** The proxies the bench knows, in the order they are listed. */
export const PROXY_IDS = [
  'direct',
  'switchyard',
  'switchyard-w2',
  'nginx',
  'nginx-w2',
  'haproxy',
  'undici-loop',
  'http-proxy-agent',
  'naive',
  'switchyard-raw',
  'switchyard-raw-w2',
  'switchyard-undici',
  'switchyard-explain',
  'switchyard-baseline',
  'switchyard-tls',
  'nginx-tls',
  'haproxy-tls',
  'switchyard-h2',
  'nginx-h2',
  'haproxy-h2',
] as const;
export type ProxyId = (typeof PROXY_IDS)[number];

/** How the load generator talks to a proxy: plain HTTP/1.1 (wrk), HTTP/1.1 over TLS (wrk) or HTTP/2 over TLS (h2load). */
export type BenchProtocol = 'http' | 'https' | 'h2';

export function protocolOf(id: ProxyId): BenchProtocol {
  return id.endsWith('-tls') ? 'https' : id.endsWith('-h2') ? 'h2' : 'http';
}

/** The rows every other row of the same protocol is compared with (×ngx, ×sy). */
export const REFERENCE_ROWS: Readonly<Record<BenchProtocol, { readonly nginx: ProxyId; readonly switchyard: ProxyId }>> = {
  http: { nginx: 'nginx', switchyard: 'switchyard' },
  https: { nginx: 'nginx-tls', switchyard: 'switchyard-tls' },
  h2: { nginx: 'nginx-h2', switchyard: 'switchyard-h2' },
};

/**
 * Run by default over plain HTTP: each engine named explicitly (`switchyard-raw`,
 * `switchyard-raw-w2`) and `switchyard-explain` only when asked for, except the undici fallback.
 */
export const DEFAULT_PROXIES: readonly ProxyId[] = PROXY_IDS.filter(
  (p) => protocolOf(p) === 'http' && p !== 'switchyard-raw' && p !== 'switchyard-raw-w2' && p !== 'switchyard-explain' && p !== 'switchyard-baseline',
);
/** The HTTPS and HTTP/2 proxies, run by default at the first connection count (`--tls-proxies`). */
export const TLS_PROXY_IDS: readonly ProxyId[] = PROXY_IDS.filter((p) => protocolOf(p) !== 'http');
/** Run again in front of our own Node backend (the second backend variant), at the first connection count. */
export const DEFAULT_VARIANT_PROXIES: readonly ProxyId[] = ['direct', 'switchyard', 'nginx', 'undici-loop'];

export const PROXY_LABELS: Readonly<Record<ProxyId, string>> = {
  direct: 'direct to a backend',
  switchyard: 'Switchyard (1 process)',
  'switchyard-w2': 'Switchyard --workers 2',
  nginx: 'nginx (1 worker)',
  'nginx-w2': 'nginx (2 workers)',
  haproxy: 'HAProxy (2 threads)',
  'undici-loop': 'bare undici loop',
  'http-proxy-agent': 'http-proxy + keep-alive',
  naive: 'naive http-proxy (seed)',
  'switchyard-raw': 'Switchyard raw engine',
  'switchyard-raw-w2': 'Switchyard raw --workers 2',
  'switchyard-undici': 'Switchyard undici engine',
  'switchyard-explain': 'Switchyard --explain',
  'switchyard-baseline': 'Switchyard baseline (--baseline)',
  'switchyard-tls': 'Switchyard HTTPS (1 process)',
  'nginx-tls': 'nginx HTTPS (1 worker)',
  'haproxy-tls': 'HAProxy HTTPS (2 threads)',
  'switchyard-h2': 'Switchyard HTTP/2 (1 process)',
  'nginx-h2': 'nginx HTTP/2 (1 worker)',
  'haproxy-h2': 'HAProxy HTTP/2 (2 threads)',
};

/** A proxy that could not be started, with the reason shown to the user. */
export class Unavailable extends Error {
  readonly code = 'SWY_BENCH_UNAVAILABLE';
}

export interface StartContext {
  readonly children: ChildSet;
  /** Scratch directory for configuration files. */
  readonly dir: string;
  readonly tools: ToolPaths;
  /** Node arguments that run the switchyard CLI: [...execArgv, entry]. */
  readonly cli: readonly string[];
  /** Node arguments that run another build's CLI (`--baseline`), for A/B runs; undefined when not given. */
  readonly baselineCli?: readonly string[];
  /** Path of a bench server program (servers/<name>.js or .ts), run with the same Node arguments as the CLI. */
  readonly serverFile: (name: string) => string;
  readonly nodeArgs: readonly string[];
  readonly maxConnections: number;
  readonly workersSupported: boolean;
  readonly readyTimeoutMs: number;
  /** The certificate every HTTPS proxy serves, or why there is none. */
  readonly certificate: BenchCertificate | string;
}

export interface RunningBackends {
  readonly variant: 'nginx' | 'node';
  readonly upstreams: readonly HostPort[];
  /** Root pids of the backend processes. */
  readonly pids: readonly number[];
}

export interface RunningProxy {
  readonly id: ProxyId;
  readonly url: string;
  /** Root of the process tree whose CPU and RSS are measured; undefined for `direct`. */
  readonly pid: number | undefined;
}

const url = (hp: HostPort): string => `http://${hp.host}:${hp.port}`;

/** nginx, one worker, two ports: the fast backend. */
export async function startNginxBackends(ctx: StartContext): Promise<RunningBackends> {
  if (!ctx.tools.nginx) throw new Unavailable('nginx is not installed');
  const dir = `${ctx.dir}/nginx-backend`;
  mkdirSync(dir, { recursive: true });
  const ports = [await freePort(), await freePort()];
  writeFileSync(`${dir}/nginx.conf`, nginxBackendConfig({ dir, ports }));
  const child = ctx.children.spawn('nginx backend', ctx.tools.nginx, ['-p', dir, '-e', 'stderr', '-c', `${dir}/nginx.conf`]);
  const upstreams = ports.map((port) => ({ host: '127.0.0.1', port }));
  for (const u of upstreams) await waitServing(url(u), ctx.readyTimeoutMs);
  return { variant: 'nginx', upstreams, pids: [child.pid] };
}

/** Two `switchyard backend` processes: our own backend, the second variant. */
export async function startNodeBackends(ctx: StartContext): Promise<RunningBackends> {
  const upstreams: HostPort[] = [];
  const pids: number[] = [];
  for (const i of [1, 2]) {
    const port = await freePort();
    const child = ctx.children.spawn(`node backend ${i}`, process.execPath, [...ctx.cli, 'backend', '--port', String(port), '--host', '127.0.0.1', '--id', `node-${i}`, '--log-level', 'warn']);
    upstreams.push({ host: '127.0.0.1', port });
    pids.push(child.pid);
  }
  for (const u of upstreams) await waitServing(url(u), ctx.readyTimeoutMs);
  return { variant: 'node', upstreams, pids };
}

/** Does this build of the balancer take --workers? (Detected from its --help, so the bench runs before and after it exists.) */
export function balancerHasWorkers(cli: readonly string[]): boolean {
  const r = spawnSync(process.execPath, [...cli, 'balancer', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return /--workers\b/.test(r.stdout ?? '');
}

/** Starts one proxy in front of the backends and waits until it answers 200. */
export async function startProxy(id: ProxyId, ctx: StartContext, backends: RunningBackends): Promise<RunningProxy> {
  const ups = backends.upstreams;
  if (id === 'direct') return { id, url: url(ups[0]!), pid: undefined };
  const tls = protocolOf(id) === 'http' ? undefined : ctx.certificate;
  if (typeof tls === 'string') throw new Unavailable(`not available: ${tls}`);
  const port = await freePort();
  const listen = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const tag = `${id} (${backends.variant} backends)`;
  let pid: number;
  switch (id) {
    case 'switchyard':
    case 'switchyard-w2':
    case 'switchyard-raw':
    case 'switchyard-raw-w2':
    case 'switchyard-undici':
    case 'switchyard-explain':
    case 'switchyard-baseline':
    case 'switchyard-tls':
    case 'switchyard-h2': {
      if ((id === 'switchyard-w2' || id === 'switchyard-raw-w2') && !ctx.workersSupported) throw new Unavailable('not available: this balancer has no --workers flag yet');
      if (id === 'switchyard-baseline' && ctx.baselineCli === undefined) throw new Unavailable('not available: give --baseline DIR, a built checkout to compare with');
      const list = ups.map((u, i) => `${backends.variant}-${i + 1}=${url(u)}`).join(',');
      const adminPort = await freePort();
      // With TLS the measured port is --tls-port; the plain --port beside it stays idle.
      const plainPort = tls ? await freePort() : port;
      const args = [...(id === 'switchyard-baseline' ? ctx.baselineCli! : ctx.cli), 'balancer', '--host', '127.0.0.1', '--port', String(plainPort), '--admin-port', String(adminPort), '--backends', list, '--log-level', 'warn'];
      if (tls) args.push('--tls-port', String(port), '--tls-cert', `${tls.cert}:${tls.key}`);
      if (id === 'switchyard-w2' || id === 'switchyard-raw-w2') args.push('--workers', '2');
      if (id === 'switchyard-raw' || id === 'switchyard-raw-w2') args.push('--engine', 'raw');
      if (id === 'switchyard-undici') args.push('--engine', 'undici');
      if (id === 'switchyard-explain') args.push('--explain');
      const child = ctx.children.spawn(tag, process.execPath, args);
      pid = child.pid;
      // Ready: /readyz counts every backend routable (their first health checks passed); then one answer through it.
      await ctx.children.waitReady(child, `http://127.0.0.1:${adminPort}`, ups.length, ctx.readyTimeoutMs);
      await waitServing(listen, ctx.readyTimeoutMs, (r) => r.status === 200 && typeof r.headers['x-backend'] === 'string');
      return { id, url: listen, pid };
    }
    case 'nginx':
    case 'nginx-w2':
    case 'nginx-tls':
    case 'nginx-h2': {
      if (!ctx.tools.nginx) throw new Unavailable('nginx is not installed');
      const dir = `${ctx.dir}/${id}-${backends.variant}`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/nginx.conf`, nginxProxyConfig({ dir, port, upstreams: ups, workers: id === 'nginx-w2' ? 2 : 1, keepalive: ctx.maxConnections, tls }));
      pid = ctx.children.spawn(tag, ctx.tools.nginx, ['-p', dir, '-e', 'stderr', '-c', `${dir}/nginx.conf`]).pid;
      break;
    }
    case 'haproxy':
    case 'haproxy-tls':
    case 'haproxy-h2': {
      if (!ctx.tools.haproxy) throw new Unavailable('HAProxy is not installed');
      const file = `${ctx.dir}/${id}-${backends.variant}.cfg`;
      writeFileSync(file, haproxyConfig({ port, upstreams: ups, threads: 2, maxconn: Math.max(4096, ctx.maxConnections * 4), tls }));
      pid = ctx.children.spawn(tag, ctx.tools.haproxy, ['-db', '-f', file]).pid;
      break;
    }
    case 'undici-loop':
      pid = ctx.children.spawn(tag, process.execPath, [...ctx.nodeArgs, ctx.serverFile('undici-loop'), '--port', String(port), '--backends', ups.map(url).join(',')]).pid;
      break;
    case 'http-proxy-agent':
    case 'naive': {
      const args = [...ctx.nodeArgs, ctx.serverFile('http-proxy-balancer'), '--port', String(port), '--backends', ups.map(url).join(',')];
      if (id === 'http-proxy-agent') args.push('--agent');
      pid = ctx.children.spawn(tag, process.execPath, args).pid;
      break;
    }
  }
  await waitServing(listen, ctx.readyTimeoutMs);
  return { id, url: listen, pid };
}

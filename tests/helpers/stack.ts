import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebSocketServer } from 'ws';
import { attachEchoSocket, BackendState, createBackendApp } from '../../backend/app.js';
import { createControlApp } from '../../backend/control-app.js';
import type { Faults } from '../../backend/faults.js';
import { createAdmin, type Admin } from '../../balancer/admin/admin-app.js';
import { Balancer } from '../../balancer/balancer.js';
import type { BalancerSettings } from '../../balancer/balancer-settings.js';
import { BALANCER_OPTIONS } from '../../balancer/config.js';
import type { EngineName, ListenerName } from '../../balancer/forward/forwarder.js';
import { createStrategy } from '../../balancer/strategies/index.js';
import type { Upstream } from '../../balancer/upstream.js';
import { parseBackendSpec, type BackendSpec } from '../../common/backend.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { MemoryRegistry } from '../../common/registry/memory-registry.js';
import type { Registry } from '../../common/registry/registry.js';
import { get } from './http.js';
import { waitFor } from './wait.js';

/**
 * An in-process demo backend: traffic on a free loopback port, fault
 * injection on a second one (`controlUrl`), as the real process has them.
 */
export class TestBackend {
  readonly state: BackendState;
  readonly server: Server;
  readonly controlServer: Server;
  readonly wss: WebSocketServer;
  port = 0;
  controlPort = 0;

  private constructor(id: string, faults?: Faults) {
    this.state = new BackendState(id, 0, faults);
    this.server = createServer({ keepAliveTimeout: 5000 }, createBackendApp(this.state));
    this.controlServer = createServer(createControlApp(this.state, silentLogger()));
    this.wss = attachEchoSocket(this.server, this.state);
  }

  static async start(id: string, opts: { port?: number; faults?: Faults } = {}): Promise<TestBackend> {
    const b = new TestBackend(id, opts.faults);
    b.port = await listen(b.server, opts.port ?? 0);
    b.state.port = b.port;
    b.controlPort = await listen(b.controlServer, 0);
    return b;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where /fault is served. */
  get controlUrl(): string {
    return `http://127.0.0.1:${this.controlPort}`;
  }

  /** Changes some faults through the control listener, as a person or a script would. */
  async setFaults(patch: Partial<Faults>): Promise<void> {
    const r = await get(`${this.controlUrl}/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) });
    if (r.status !== 200) throw new Error(`POST ${this.controlUrl}/fault answered ${r.status}`);
  }

  /** Clears every fault through the control listener. */
  async clearFaults(): Promise<void> {
    const r = await get(`${this.controlUrl}/fault`, { method: 'DELETE' });
    if (r.status !== 200) throw new Error(`DELETE ${this.controlUrl}/fault answered ${r.status}`);
  }

  spec(extra: Partial<BackendSpec> = {}): BackendSpec {
    const r = parseBackendSpec({ id: this.state.id, url: this.url, ...extra });
    if (!r.ok) throw new Error(r.reason);
    return r.value;
  }

  connections(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    this.controlServer.closeAllConnections();
    await Promise.all([this.server, this.controlServer].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * The ways through the request path that suites covering "every engine" run:
 * each engine behind the default (llhttp) listener, and the undici engine
 * behind http.Server's listener (documented Node APIs only, the fallback).
 */
export const SETUPS = {
  raw: { engine: 'raw', listener: 'llhttp' },
  undici: { engine: 'undici', listener: 'llhttp' },
  'undici/http-server': { engine: 'undici', listener: 'http-server' },
} as const satisfies Record<string, { readonly engine: EngineName; readonly listener: ListenerName }>;
export type SetupName = keyof typeof SETUPS;
export const SETUP_NAMES = Object.keys(SETUPS) as SetupName[];

export const TEST_SETTINGS: BalancerSettings = {
  // The product's defaults; suites that cover every engine set `engine` and `listener` themselves (SETUPS).
  engine: BALANCER_OPTIONS.engine.default,
  listener: BALANCER_OPTIONS.listener.default,
  maxRetries: 2,
  backendHeader: true,
  trustForwarded: false,
  maxHeaderSize: 16_384,
  keepAliveTimeoutMs: 5000,
  // The product's default: every in-process suite goes through the listening-socket group.
  listenShards: BALANCER_OPTIONS.listenShards.default,
  shutdownTimeoutMs: 5000,
  instanceId: 'test-balancer',
  pool: { connections: 64, connectTimeoutMs: 1000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, idleTimeoutMs: BALANCER_OPTIONS.backendIdleTimeout.default },
  health: { enabled: true, path: '/health', intervalMs: 250, fastIntervalMs: 100, timeoutMs: 500, rise: 2, fall: 3 },
};

export interface TestBalancerOptions {
  readonly registry?: Registry;
  readonly backends?: readonly BackendSpec[];
  readonly settings?: Partial<BalancerSettings>;
  readonly strategy?: string;
  readonly adminToken?: string;
  readonly logger?: Logger;
  readonly processMetrics?: boolean;
  /** The proxy port; 0 (the default) lets the kernel choose. */
  readonly port?: number;
}

/** An in-process balancer (proxy and admin API) on free loopback ports. */
export class TestBalancer {
  readonly lb: Balancer;
  readonly registry: Registry;
  readonly adminServer: Server;
  readonly admin: Admin;
  port = 0;
  adminPort = 0;

  private constructor(opts: TestBalancerOptions) {
    this.registry = opts.registry ?? new MemoryRegistry(opts.backends ?? []);
    const logger = opts.logger ?? silentLogger();
    this.lb = new Balancer({
      settings: { ...TEST_SETTINGS, ...opts.settings },
      registry: this.registry,
      strategy: createStrategy<Upstream>(opts.strategy ?? 'round-robin'),
      logger,
    });
    this.admin = createAdmin(this.lb, { token: opts.adminToken, logger, processMetrics: opts.processMetrics ?? false });
    this.adminServer = createServer(this.admin.app);
  }

  static async start(opts: TestBalancerOptions = {}): Promise<TestBalancer> {
    const t = new TestBalancer(opts);
    await t.registry.start();
    await t.lb.start();
    try {
      t.port = (await t.lb.listen(opts.port ?? 0, '127.0.0.1')).port;
    } catch (err) {
      await t.lb.close();
      await t.registry.close();
      throw err;
    }
    await new Promise<void>((resolve) => t.adminServer.listen(0, '127.0.0.1', () => resolve()));
    t.adminPort = (t.adminServer.address() as AddressInfo).port;
    t.lb.addSelfAddress('127.0.0.1', t.adminPort);
    return t;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** Resolves once `n` backends are routable. */
  async routable(n: number, timeoutMs = 5000): Promise<void> {
    await waitFor(
      `${n} routable backends`,
      () => {
        const ids = this.lb.upstreams.routable.map((u) => u.id);
        if (ids.length === n) return true;
        throw new Error(`have ${ids.join(',') || 'none'}`);
      },
      timeoutMs,
      20,
    );
  }

  async close(): Promise<void> {
    this.admin.close();
    this.adminServer.closeAllConnections();
    await new Promise<void>((resolve) => this.adminServer.close(() => resolve()));
    await this.lb.close();
    await this.registry.close();
  }
}

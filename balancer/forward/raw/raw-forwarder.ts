import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Upstream } from '../../upstream.js';
import type { BufferBudget } from '../buffer-budget.js';
import type { Forwarder, ForwardHost, PoolOptions } from '../forwarder.js';
import type { RequestLimits } from '../request-limits.js';
import type { PolicyVerdict, RequestPolicyOptions } from '../request-policy.js';
import { ServerClient } from '../server-client.js';
import { UploadGate } from '../upload-gate.js';
import { ClientConnection, type ConnectionEngine } from './client-connection.js';
import { rawEngineUnsupported } from './http-parser.js';
import { RawTransport, UPSTREAM_IDLE_MS } from './raw-transport.js';

export interface RawEngineOptions {
  readonly pool: PoolOptions;
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
}

type ConnectionListener = (this: Server, socket: Socket) => void;

/**
 * The raw engine (`--engine raw`): plain `net` sockets on both sides, parsed
 * by Node's own llhttp (`./http-parser.ts`), with per-backend keep-alive
 * pools of raw connections. It takes the balancer's http.Server 'connection'
 * event; an allowed Upgrade (WebSocket) is handed to http.Server's own
 * listener, and from there to the WebSocket tunnels.
 */
export class RawForwarder implements Forwarder, ConnectionEngine {
  readonly name = 'raw';
  readonly host: ForwardHost;
  readonly retryOnStatus: ReadonlySet<number> | null;
  readonly keepAliveSeconds: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly limits: RequestLimits;
  readonly policy: RequestPolicyOptions;
  readonly bodyBudget: BufferBudget;
  readonly requestId: () => string;
  readonly transport: RawTransport;
  readonly uploads: UploadGate;
  readonly #connections = new Set<ClientConnection>();
  readonly #timer: NodeJS.Timeout;
  #server: Server | null = null;
  #httpListeners: ConnectionListener[] = [];

  constructor(host: ForwardHost, options: RawEngineOptions) {
    const unsupported = rawEngineUnsupported();
    if (unsupported !== undefined) throw new Error(unsupported);
    this.host = host;
    const statuses = host.settings.retryOnStatus ?? [];
    this.retryOnStatus = statuses.length ? new Set(statuses) : null;
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs;
    this.keepAliveSeconds = Math.floor(options.keepAliveTimeoutMs / 1000);
    this.maxHeaderSize = options.maxHeaderSize;
    this.limits = host.limits;
    this.policy = host.policy;
    this.bodyBudget = host.bodyBudget;
    this.requestId = () => host.nextRequestId();
    // Uploads still arriving may hold half of a backend's connections.
    this.uploads = new UploadGate(Math.floor(options.pool.connections / 2));
    this.transport = new RawTransport(options.pool, host.settings.requestTimeoutMs ?? 0, host.limits.clientSendTimeoutMs);
    const p = options.pool;
    const requestTimeout = host.settings.requestTimeoutMs || UPSTREAM_IDLE_MS;
    const l = host.limits;
    const shortest = Math.min(
      p.connectTimeoutMs,
      p.headersTimeoutMs,
      p.bodyTimeoutMs,
      requestTimeout,
      UPSTREAM_IDLE_MS,
      options.keepAliveTimeoutMs || UPSTREAM_IDLE_MS,
      l.clientBodyTimeoutMs,
      l.clientSendTimeoutMs,
    );
    this.#timer = setInterval(() => this.#sweep(), Math.min(1000, Math.max(10, Math.floor(shortest / 4))));
    this.#timer.unref();
  }

  /** Takes over `server`'s 'connection' event; its own listener stays the fallback. */
  attach(server: Server): void {
    this.#server = server;
    this.#httpListeners = server.listeners('connection') as ConnectionListener[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.#accept(socket));
  }

  #accept(socket: Socket): void {
    this.#connections.add(new ClientConnection(socket, this));
  }

  /** A request on a connection handed to http.Server (an Upgrade it serves as a plain request): through the same core and pools. */
  handle(req: IncomingMessage, res: ServerResponse, verdict: PolicyVerdict): void {
    new ServerClient(this, req, res, verdict);
  }

  handOff(socket: Socket): void {
    const server = this.#server!;
    for (const l of this.#httpListeners) l.call(server, socket);
    socket.resume();
  }

  forgetConnection(c: ClientConnection): void {
    this.#connections.delete(c);
  }

  /** The backend left the registry: its idle connections close now, busy ones when done. */
  forget(up: Upstream): void {
    this.transport.forget(up);
  }

  /** Client connections open on the raw path (not handed off). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  closeIdleConnections(): void {
    for (const c of this.#connections) c.closeIfIdle();
  }

  closeAllConnections(): void {
    for (const c of this.#connections) c.socket.destroy();
  }

  /** Backend connections close once their requests finish (the sweep keeps their deadlines meanwhile). */
  async close(): Promise<void> {
    await this.transport.close();
    clearInterval(this.#timer);
  }

  async destroy(): Promise<void> {
    clearInterval(this.#timer);
    await this.transport.destroy();
  }

  #sweep(): void {
    const now = Date.now();
    this.transport.sweep(now);
    for (const c of this.#connections) c.sweep(now);
  }
}

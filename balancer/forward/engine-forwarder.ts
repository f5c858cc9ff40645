import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Upstream } from '../upstream.js';
import type { BufferBudget } from './buffer-budget.js';
import { type EngineName, type EngineTransport, type Forwarder, type ForwardHost, type ListenerName, type PoolOptions } from './forwarder.js';
import { ClientConnection, type ConnectionEngine } from './http1/client-connection.js';
import { llhttpUnsupported } from './http1/http-parser.js';
import type { RequestLimits } from './request-limits.js';
import type { PolicyVerdict, RequestPolicyOptions } from './request-policy.js';
import { ServerClient } from './server-client.js';
import { UploadGate } from './upload-gate.js';

export interface ForwarderOptions {
  readonly pool: PoolOptions;
  readonly listener: ListenerName;
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
}

type ConnectionListener = (this: Server, socket: Socket) => void;

/**
 * The request path of the balancer: a listener for client connections, the
 * request core (exchange/) for each request, and one engine's upstream
 * transport (raw/ or undici/) for its attempts. The same for every engine.
 *
 * With the llhttp listener (the default) it takes the proxy server's
 * 'connection' event and reads each connection itself (http1/); an allowed
 * Upgrade (WebSocket) is handed to http.Server's own listener, and from there
 * to the WebSocket tunnels. With the http-server listener, http.Server parses
 * every request (server-client.ts): documented Node APIs only, the fallback
 * when this Node's llhttp binding is not usable.
 */
export class EngineForwarder implements Forwarder, ConnectionEngine {
  readonly name: EngineName;
  readonly listener: ListenerName;
  readonly host: ForwardHost;
  readonly transport: EngineTransport;
  readonly retryOnStatus: ReadonlySet<number> | null;
  readonly keepAliveSeconds: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly limits: RequestLimits;
  readonly policy: RequestPolicyOptions;
  readonly bodyBudget: BufferBudget;
  readonly requestId: () => string;
  readonly uploads: UploadGate;
  readonly #connections = new Set<ClientConnection>();
  readonly #timer: NodeJS.Timeout;
  #server: Server | null = null;
  #httpListeners: ConnectionListener[] = [];

  constructor(name: EngineName, host: ForwardHost, options: ForwarderOptions, transport: EngineTransport) {
    const unsupported = options.listener === 'llhttp' ? llhttpUnsupported() : undefined;
    if (unsupported !== undefined) throw new Error(`${unsupported}; run the balancer with --listener http-server`);
    this.name = name;
    this.listener = options.listener;
    this.host = host;
    this.transport = transport;
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
    const p = options.pool;
    const l = host.limits;
    const shortest = Math.min(
      p.connectTimeoutMs,
      p.headersTimeoutMs,
      p.bodyTimeoutMs,
      host.settings.requestTimeoutMs || p.idleTimeoutMs,
      p.idleTimeoutMs,
      options.keepAliveTimeoutMs || p.idleTimeoutMs,
      l.clientBodyTimeoutMs,
      l.clientSendTimeoutMs,
    );
    this.#timer = setInterval(() => this.#sweep(), Math.min(1000, Math.max(10, Math.floor(shortest / 4))));
    this.#timer.unref();
  }

  /** The llhttp listener takes over `server`'s 'connection' event; http.Server's own listener stays for upgrades handed to it. */
  attach(server: Server): void {
    if (this.listener !== 'llhttp') return;
    this.#server = server;
    this.#httpListeners = server.listeners('connection') as ConnectionListener[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.#connections.add(new ClientConnection(socket, this)));
  }

  /** A request http.Server parsed (every request with the http-server listener; with llhttp, an Upgrade served as a plain request). */
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

  /** Client connections the llhttp listener holds (not handed off); http.Server closes its own. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  closeIdleConnections(idleForMs: number): void {
    const now = Date.now();
    for (const c of this.#connections) c.closeIfIdleFor(idleForMs, now);
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
    this.transport.sweep?.(now);
    for (const c of this.#connections) c.sweep(now);
  }
}

import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { classifyUpstreamError, isConnectFailure } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import { rawErrorResponse } from './error-response.js';
import type { ForwardHost } from './forwarder.js';
import { clientAddress, rawHeaderValue, type PolicyVerdict } from './request-policy.js';

const kTunnel = Symbol('switchyard.tunnel');

interface Tunnel extends PickContext {
  readonly requestId: string;
  readonly client: Duplex;
  upstream: Upstream | undefined;
  tried: Upstream[];
  upgraded: boolean;
  closed: boolean;
  /** When the current upstream attempt started, for its outcome; 0 once recorded. */
  attemptStartedAt: number;
}

type TaggedRequest = IncomingMessage & { [kTunnel]?: Tunnel };

/**
 * Upgrade requests the request policy allows (WebSocket by default; never
 * h2c) tunnelled with http-proxy's `ws` support, with the policy's target and
 * fields. A refused connection is tried once more on
 * another backend; a refused upgrade is answered and the socket closed; once
 * upgraded, closing either side closes the other, even without a FIN.
 */
export class WebSocketTunnels {
  readonly #host: ForwardHost;
  readonly #proxy: httpProxy;
  readonly #log: Logger;
  readonly #open = new Set<Tunnel>();

  constructor(host: ForwardHost, logger: Logger) {
    this.#host = host;
    this.#log = logger;
    this.#proxy = httpProxy.createProxyServer({ ws: true, xfwd: false });
    this.#proxy.on('error', () => undefined);
    this.#proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage) => this.#onProxyReq(proxyReq, req as TaggedRequest));
  }

  get open(): number {
    return this.#open.size;
  }

  /** `v`: the policy's verdict, with `upgrade` set (the caller checked). */
  handle(req: IncomingMessage, client: Duplex, head: Buffer, v: PolicyVerdict): void {
    client.on('error', () => undefined);
    const clientIp = clientAddress(req.socket.remoteAddress);
    const requestId = v.requestId;
    req.url = v.path;
    const h: Record<string, string | string[]> = {};
    if (v.host !== '') h.host = v.host;
    for (let i = 0; i < v.headers.length; i += 2) {
      const name = v.headers[i]!.toLowerCase();
      const had = h[name];
      h[name] = had === undefined ? v.headers[i + 1]! : Array.isArray(had) ? [...had, v.headers[i + 1]!] : [had, v.headers[i + 1]!];
    }
    req.headers = h;
    const tunnel: Tunnel = {
      requestId,
      client,
      upstream: undefined,
      tried: [],
      upgraded: false,
      closed: false,
      attemptStartedAt: 0,
      clientIp,
      path: v.path,
      header: (name: string) => rawHeaderValue(req.rawHeaders, name),
    };
    (req as TaggedRequest)[kTunnel] = tunnel;
    this.#open.add(tunnel);
    client.once('close', () => this.#closed(tunnel));
    if (this.#host.shuttingDown) {
      this.#reject(tunnel, 'SWY_SHUTTING_DOWN');
      return;
    }
    this.#connect(tunnel, req as TaggedRequest, head);
  }

  #connect(t: Tunnel, req: TaggedRequest, head: Buffer): void {
    const up = this.#host.pick(t, t.tried);
    if (!up) {
      this.#reject(t, 'SWY_NO_BACKEND');
      return;
    }
    t.upstream = up;
    up.tunnelOpened();
    t.attemptStartedAt = performance.now();
    this.#proxy.ws(req, t.client, head, { target: up.url }, (err: Error) => {
      if (t.upstream === up) {
        up.tunnelClosed();
        t.upstream = undefined;
      }
      if (t.closed || t.upgraded) {
        t.client.destroy();
        return;
      }
      this.#attemptEnded(t, up, 'failure');
      const code = classifyUpstreamError(err);
      this.#host.attemptFailed(up, code);
      if (isConnectFailure(code) && t.tried.length === 0) {
        t.tried.push(up);
        this.#connect(t, req, head);
        return;
      }
      this.#log.debug({ requestId: t.requestId, backendId: up.id, code }, 'upgrade failed');
      this.#reject(t, code);
    });
  }

  #onProxyReq(proxyReq: ClientRequest, req: TaggedRequest): void {
    const t = req[kTunnel];
    if (!t) return;
    proxyReq.on('upgrade', (proxyRes: IncomingMessage, upstreamSocket: Duplex) => {
      t.upgraded = true;
      t.upstream?.countStatus(proxyRes.statusCode ?? 101);
      if (t.upstream) this.#attemptEnded(t, t.upstream, 'success');
      // Propagate abrupt closes both ways; pipe() only forwards a clean end.
      upstreamSocket.once('close', () => t.client.destroy());
      t.client.once('close', () => upstreamSocket.destroy());
      if (t.closed) upstreamSocket.destroy();
    });
    proxyReq.on('response', (res: IncomingMessage) => {
      // The backend declined the upgrade; http-proxy relays its answer.
      t.upstream?.countStatus(res.statusCode ?? 0);
      if (t.upstream) this.#attemptEnded(t, t.upstream, (res.statusCode ?? 0) >= 500 ? 'failure' : 'success');
    });
  }

  #reject(t: Tunnel, code: Parameters<typeof rawErrorResponse>[0]): void {
    if (!t.client.destroyed) t.client.end(rawErrorResponse(code, t.requestId));
    this.#closed(t);
  }

  /** Reports the attempt's outcome once (breakers and outlier detection count it). */
  #attemptEnded(t: Tunnel, up: Upstream, outcome: 'success' | 'failure' | 'cancelled'): void {
    if (t.attemptStartedAt === 0) return;
    const ms = performance.now() - t.attemptStartedAt;
    t.attemptStartedAt = 0;
    this.#host.attemptEnded(up, outcome, ms);
  }

  #closed(t: Tunnel): void {
    if (t.closed) return;
    t.closed = true;
    this.#open.delete(t);
    if (t.upstream) this.#attemptEnded(t, t.upstream, 'cancelled');
    if (t.upstream) {
      t.upstream.tunnelClosed();
      t.upstream = undefined;
    }
  }

  /** Closes every open tunnel (shutdown). */
  closeAll(): void {
    for (const t of this.#open) t.client.destroy();
  }

  close(): void {
    this.closeAll();
    this.#proxy.close();
  }
}

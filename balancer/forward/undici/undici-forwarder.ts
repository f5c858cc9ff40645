import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Upstream } from '../../upstream.js';
import type { BufferBudget } from '../buffer-budget.js';
import type { ExchangeDeps } from '../exchange/exchange.js';
import type { ForwardHost, Forwarder, PoolOptions } from '../forwarder.js';
import type { RequestLimits } from '../request-limits.js';
import type { PolicyVerdict } from '../request-policy.js';
import { ServerClient } from '../server-client.js';
import { UndiciTransport } from './undici-transport.js';
import { UploadGate } from '../upload-gate.js';

/**
 * The undici engine (`--engine undici`, documented APIs only): requests
 * parsed by Node's http.Server (server-client.ts), sent to backends through
 * one undici Pool each (undici-transport.ts); the request core in between.
 */
export class UndiciForwarder implements Forwarder, ExchangeDeps {
  readonly name = 'undici';
  readonly host: ForwardHost;
  readonly transport: UndiciTransport;
  readonly retryOnStatus: ReadonlySet<number> | null;
  readonly limits: RequestLimits;
  readonly bodyBudget: BufferBudget;
  readonly uploads: UploadGate;

  constructor(host: ForwardHost, options: PoolOptions) {
    this.host = host;
    this.limits = host.limits;
    this.bodyBudget = host.bodyBudget;
    const statuses = host.settings.retryOnStatus ?? [];
    this.retryOnStatus = statuses.length ? new Set(statuses) : null;
    // Uploads still arriving may hold half of a backend's connections.
    this.uploads = new UploadGate(Math.floor(options.connections / 2));
    this.transport = new UndiciTransport({
      ...options,
      requestTimeoutMs: host.settings.requestTimeoutMs ?? 0,
      clientSendTimeoutMs: host.limits.clientSendTimeoutMs,
    });
  }

  /** Requests come from http.Server's 'request' event: nothing to take over. */
  attach(_server: Server): void {}

  handle(req: IncomingMessage, res: ServerResponse, verdict: PolicyVerdict): void {
    new ServerClient(this, req, res, verdict);
  }

  forget(upstream: Upstream): void {
    this.transport.pools.forget(upstream);
  }

  /** Client connections belong to http.Server, which closes them. */
  closeIdleConnections(): void {}

  closeAllConnections(): void {}

  close(): Promise<void> {
    return this.transport.pools.close();
  }

  destroy(): Promise<void> {
    return this.transport.pools.destroy();
  }
}

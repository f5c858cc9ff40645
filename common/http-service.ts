import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NamedPart } from './lifecycle.js';

/**
 * A plain HTTP server as a lifecycle part (admin API, demo backend): listens
 * on start, on close stops accepting, lets open requests finish for up to
 * `graceMs`, then closes whatever is left.
 */
export class HttpService implements NamedPart {
  readonly name: string;
  readonly server: Server;
  readonly #port: number;
  readonly #host: string;
  readonly #graceMs: number;
  #address: AddressInfo | undefined;

  constructor(name: string, handler: RequestListener, opts: { port: number; host: string; graceMs?: number; server?: Server }) {
    this.name = name;
    this.server = opts.server ?? createServer(handler);
    this.#port = opts.port;
    this.#host = opts.host;
    this.#graceMs = opts.graceMs ?? 5000;
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  get address(): AddressInfo {
    if (!this.#address) throw new Error(`${this.name} is not listening`);
    return this.#address;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.#port, this.#host, () => {
        this.server.off('error', onError);
        this.server.on('error', () => undefined);
        this.#address = this.server.address() as AddressInfo;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => this.server.closeAllConnections(), this.#graceMs);
      force.unref();
      // Connections become idle as their last request finishes: close them as they do.
      const idle = setInterval(() => this.server.closeIdleConnections(), 100);
      this.server.close(() => {
        clearTimeout(force);
        clearInterval(idle);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }
}

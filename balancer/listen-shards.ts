import type { Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type ListenOptions, type Server, type Socket } from 'node:net';

/** SO_REUSEPORT groups that spread new connections over their sockets: Linux 3.9+ and FreeBSD 12+. */
export function reusePortSupported(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' || platform === 'freebsd';
}

/**
 * Sockets per proxy port by default. libuv accepts one connection per
 * listening socket per event-loop turn (libuv#3696); a saturated turn takes
 * ~10 ms, so 256 new connections on one socket wait up to ~2.5 s to be
 * accepted. 64 sockets cut the wait for such a burst to a few turns (measured
 * in docs/performance.md); past that the gain flattens.
 */
export const LISTEN_SHARDS_DEFAULT = reusePortSupported() ? 64 : 1;

function listenOn(server: Server, options: ListenOptions): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The proxy port as a group of listening sockets (SO_REUSEPORT): the HTTP
 * server's own and `count - 1` more, whose connections are handed to it as
 * its own ('connection'), so every engine sees one server. The kernel spreads
 * new connections over the group by their addresses.
 *
 * A group would share the port with any other group of the same user (an old
 * balancer still running), so the port is first bound by a plain socket: if
 * anything holds it, listen() fails with EADDRINUSE as a single socket would.
 */
export class ListenShards {
  readonly #server: HttpServer;
  readonly #count: number;
  readonly #onError: (err: Error) => void;
  #extra: Server[] = [];

  /** `onError`: an error of an extra socket after it listens (the server's own go to its 'error' listeners). */
  constructor(server: HttpServer, count: number, onError: (err: Error) => void) {
    this.#server = server;
    this.#count = count;
    this.#onError = onError;
  }

  /** Sockets listening now (0 before listen() and after close()). */
  get listening(): number {
    return this.#server.listening ? 1 + this.#extra.length : 0;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    if (this.#count <= 1) return listenOn(this.#server, { port, host });
    const probe = createServer();
    const free = await listenOn(probe, { port, host, exclusive: true });
    await closeServer(probe);
    const addr = await listenOn(this.#server, { port: free.port, host, reusePort: true });
    try {
      for (let i = 1; i < this.#count; i++) {
        const extra = createServer({ noDelay: true }, (socket: Socket) => this.#server.emit('connection', socket));
        await listenOn(extra, { port: addr.port, host, reusePort: true });
        extra.on('error', this.#onError);
        this.#extra.push(extra);
      }
    } catch (err) {
      await this.#closeExtra();
      await closeServer(this.#server);
      throw err;
    }
    return addr;
  }

  /** Stops accepting on the extra sockets; resolves once the connections they accepted are closed. The server's own socket is closed by its owner. */
  close(): Promise<void> {
    return this.#closeExtra();
  }

  async #closeExtra(): Promise<void> {
    const extra = this.#extra;
    this.#extra = [];
    await Promise.all(extra.map(closeServer));
  }
}

import type { Server as HttpServer } from 'node:http';
import { lookup } from 'node:dns/promises';
import { createServer, type AddressInfo, type ListenOptions, type Server, type Socket } from 'node:net';
import { readTcpTable } from '../common/proc-net-tcp.js';
import { addressInUse, holdersOf, socketInodes } from './port-holders.js';

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

/** A listening server's file descriptor (Node keeps it on the server's handle on Unix); -1 when not known. */
function descriptorOf(server: Server): number {
  return (server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
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
 * balancer still running), so listen() fails with EADDRINUSE, as a single
 * socket would, when the kernel lists another socket listening there: before
 * the group binds, and again once it has (two balancers starting together).
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
    const before = await readTcpTable();
    if (before === undefined) return this.#listenAfterProbe(port, host);
    // Linux: ask the kernel who listens, rather than bind a probe (a probe that
    // listens, however briefly, accepts and then resets a client's connection).
    const { address } = await lookup(host);
    if (port !== 0 && holdersOf(before, address, port).length > 0) throw addressInUse(address, port);
    const addr = await this.#listenGroup(port, host);
    // Two balancers that start at the same moment both pass the check above: the later one to look sees the other's sockets and leaves.
    const [after, mine] = await Promise.all([readTcpTable(), socketInodes([this.#server, ...this.#extra].map(descriptorOf))]);
    if (holdersOf(after ?? [], addr.address, addr.port).some((l) => !mine.has(l.inode))) {
      await this.#closeAll();
      throw addressInUse(addr.address, addr.port);
    }
    return addr;
  }

  /** Without /proc/net (FreeBSD): a plain socket binds the port first and fails with EADDRINUSE if anything holds it. */
  async #listenAfterProbe(port: number, host: string): Promise<AddressInfo> {
    const probe = createServer();
    const free = await listenOn(probe, { port, host, exclusive: true });
    await closeServer(probe);
    return this.#listenGroup(free.port, host);
  }

  async #listenGroup(port: number, host: string): Promise<AddressInfo> {
    const addr = await listenOn(this.#server, { port, host, reusePort: true });
    try {
      for (let i = 1; i < this.#count; i++) {
        const extra = createServer({ noDelay: true }, (socket: Socket) => this.#server.emit('connection', socket));
        await listenOn(extra, { port: addr.port, host, reusePort: true });
        extra.on('error', this.#onError);
        this.#extra.push(extra);
      }
    } catch (err) {
      await this.#closeAll();
      throw err;
    }
    return addr;
  }

  /** After a failed start: nothing listens, and any connection accepted meanwhile is closed. */
  async #closeAll(): Promise<void> {
    const closed = Promise.all([this.#closeExtra(), closeServer(this.#server)]);
    this.#server.closeAllConnections();
    await closed;
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

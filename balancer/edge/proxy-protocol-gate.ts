import type { Server, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '../../common/logger.js';
import { parseProxyHeader, V2_MAX_BODY } from './proxy-protocol.js';

/** The client a PROXY header named, on the socket (or the stream) that carries the connection. */
const kSource = Symbol.for('switchyard.proxySource');

export interface ProxySource {
  readonly address: string;
  readonly port: number;
}

type Tagged = { [kSource]?: ProxySource };

/**
 * The rest of a connection after its PROXY header, as a stream: the bytes
 * read past the header first, then the socket's. TLS and HTTP/2 read a plain
 * socket's handle directly and would miss bytes put back with unshift(); given
 * a stream they read through it. It reports the client as its peer.
 */
class AfterHeader extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  readonly #socket: Socket;

  constructor(socket: Socket, rest: Buffer, source: ProxySource) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.remoteAddress = source.address;
    this.remotePort = source.port;
    this.remoteFamily = source.address.includes(':') ? 'IPv6' : 'IPv4';
    (this as Tagged)[kSource] = source;
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    if (rest.length > 0) this.push(rest);
  }

  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.#socket.localPort;
  }

  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#socket.setKeepAlive(enable, delay);
    return this;
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.#socket.setTimeout(ms, cb);
    return this;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#socket.destroy();
    cb(err);
  }
}

/** The client a PROXY header named for this connection (its socket, stream, or a TLS socket over either), if any. */
export function proxySourceOf(x: object): ProxySource | undefined {
  const own = (x as Tagged)[kSource];
  if (own !== undefined) return own;
  // A TLS socket over the stream above: the stream sits a few objects down (its TLS wrap's parent's owner).
  const seen = new Set<object>();
  const search = (o: unknown, depth: number): ProxySource | undefined => {
    if (o === null || typeof o !== 'object' || seen.has(o) || seen.size > 400) return undefined;
    seen.add(o);
    const found = (o as Tagged)[kSource];
    if (found !== undefined) return found;
    if (depth === 0 || o instanceof Buffer || Array.isArray(o)) return undefined;
    for (const k of [...Object.getOwnPropertyNames(o), ...Object.getOwnPropertySymbols(o)]) {
      let v: unknown;
      try {
        v = (o as Record<string | symbol, unknown>)[k];
      } catch {
        continue;
      }
      const r = search(v, depth - 1);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  return search(x, 4);
}

export interface ProxyProtocolOptions {
  /** Peers that must start each connection with a PROXY header (--trusted-proxies). */
  readonly trusted: (peer: string) => boolean;
  /** How long a trusted peer may take to send the whole header. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * `--proxy-protocol` (docs/edge.md): a connection from a peer on
 * --trusted-proxies must begin with a PROXY header (v1 or v2); the address it
 * names becomes the connection's peer for everything after (the client rules,
 * ip-hash, rate limits, bans, the access log, X-Forwarded-For). A trusted
 * peer's connection without a valid header, or one that takes longer than
 * `timeoutMs` to send it, is closed. Connections from anyone else are served
 * as they are: their bytes are never read as a header, so a client cannot
 * name an address of its choosing.
 */
export class ProxyProtocolGate {
  readonly #opts: ProxyProtocolOptions;
  /** Connections closed for a missing, malformed or slow header. */
  refused = 0;

  constructor(opts: ProxyProtocolOptions) {
    this.#opts = opts;
  }

  /**
   * Takes `server`'s 'connection' event: each connection passes the gate
   * first, then reaches the listeners it had. `asStream`: hand on the rest as
   * a stream (for servers that read the socket's handle: TLS, HTTP/2).
   */
  intercept(server: Server, asStream: boolean): void {
    const listeners = server.listeners('connection') as ((this: Server, s: Socket | Duplex) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) =>
      this.accept(socket, asStream, (s) => {
        for (const l of listeners) l.call(server, s);
      }),
    );
  }

  accept(socket: Socket, asStream: boolean, next: (s: Socket | Duplex) => void): void {
    const peer = socket.remoteAddress?.startsWith('::ffff:') ? socket.remoteAddress.slice(7) : (socket.remoteAddress ?? '');
    if (!this.#opts.trusted(peer)) {
      next(socket);
      return;
    }
    socket.on('error', () => undefined);
    let buf: Buffer = Buffer.alloc(0);
    const refuse = (reason: string): void => {
      this.refused++;
      this.#opts.logger.debug({ peer, reason }, 'PROXY protocol: connection refused');
      socket.destroy();
    };
    const timer = setTimeout(() => {
      socket.removeListener('data', onData);
      refuse('no whole PROXY header in time');
    }, this.#opts.timeoutMs);
    timer.unref();
    const onData = (d: Buffer): void => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const h = parseProxyHeader(buf);
      if (h.kind === 'more') {
        if (buf.length > 16 + V2_MAX_BODY) refuse('a PROXY header too long');
        return;
      }
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.pause();
      if (h.kind === 'invalid') {
        refuse(h.reason);
        return;
      }
      const source = h.source ?? { address: peer, port: socket.remotePort ?? 0 };
      const rest = buf.subarray(h.length);
      if (asStream) {
        next(new AfterHeader(socket, rest, source));
        return;
      }
      if (rest.length > 0) socket.unshift(rest);
      (socket as Socket & Tagged)[kSource] = source;
      Object.defineProperty(socket, 'remoteAddress', { value: source.address, configurable: true });
      Object.defineProperty(socket, 'remotePort', { value: source.port, configurable: true });
      next(socket);
      socket.resume();
    };
    socket.on('data', onData);
  }
}

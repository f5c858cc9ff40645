import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * HTTP/1.1 at the byte level for the engine conformance suite: a client and
 * a backend that write exactly the bytes a test gives them and parse what
 * comes back with a small parser of their own (not llhttp, which one engine
 * under test uses).
 */

export type HeaderList = [string, string][];

function parseHead(text: string): { line: string; headers: HeaderList } {
  const lines = text.split('\r\n');
  const headers: HeaderList = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()]);
  }
  return { line: lines[0]!, headers };
}

function find(headers: HeaderList, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Reads bytes on demand from a socket. */
class ByteReader {
  #parts: Buffer[] = [];
  #length = 0;
  ended = false;
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.#parts.push(d);
      this.#length += d.length;
      this.#notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#notify();
    });
    socket.on('error', () => undefined);
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** The bytes received and not taken yet. */
  get buf(): Buffer {
    if (this.#parts.length !== 1) this.#parts = [Buffer.concat(this.#parts)];
    return this.#parts[0]!;
  }

  set buf(b: Buffer) {
    this.#parts = [b];
    this.#length = b.length;
  }

  /** Waits for more bytes; false when the connection ended. */
  async more(timeoutMs: number): Promise<boolean> {
    if (this.ended) return false;
    const before = this.#length;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no bytes within ${timeoutMs} ms (have ${this.#length}: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`)),
        timeoutMs,
      );
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    return this.#length > before || !this.ended;
  }

  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async head(timeoutMs: number): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i >= 0)
        return this.take(i + 4)
          .toString('latin1')
          .slice(0, -4);
      if (!(await this.more(timeoutMs))) return null;
    }
  }

  async exactly(n: number, timeoutMs: number): Promise<Buffer | null> {
    while (this.#length < n) if (!(await this.more(timeoutMs))) return null;
    return Buffer.from(this.take(n));
  }

  async line(timeoutMs: number): Promise<string | null> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0)
        return this.take(i + 2)
          .toString('latin1')
          .slice(0, -2);
      if (!(await this.more(timeoutMs))) return null;
    }
  }

  /** A chunked body: the data and the trailers. */
  async chunked(timeoutMs: number): Promise<{ body: Buffer; trailers: HeaderList } | null> {
    const parts: Buffer[] = [];
    for (;;) {
      const size = await this.line(timeoutMs);
      if (size === null) return null;
      const n = parseInt(size, 16);
      if (n === 0) break;
      const data = await this.exactly(n + 2, timeoutMs);
      if (data === null) return null;
      parts.push(data.subarray(0, n));
    }
    const trailers: HeaderList = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l === null) return null;
      if (l === '') break;
      const i = l.indexOf(':');
      trailers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()]);
    }
    return { body: Buffer.concat(parts), trailers };
  }

  async rest(timeoutMs: number): Promise<Buffer> {
    while (await this.more(timeoutMs));
    return this.take(this.#length);
  }
}

export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  readonly headers: HeaderList;
  readonly body: Buffer;
  readonly trailers: HeaderList;
  /** The body came chunked, or delimited by the connection's close. */
  readonly framing: 'length' | 'chunked' | 'close' | 'none';
  header(name: string): string | undefined;
}

/** A client on one connection. */
export class RawClient {
  readonly socket: Socket;
  readonly #reader: ByteReader;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#reader = new ByteReader(socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Over TLS (HTTP/1.1 by ALPN), the chain verified against `ca`. */
  static connectTls(port: number, ca: Buffer, servername = 'localhost'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername, ALPNProtocols: ['http/1.1'] });
      s.once('secureConnect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next response (a 1xx interim response is a response too); `noBody` for a response to HEAD. */
  async response(opts: { noBody?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const t = opts.timeoutMs ?? 5000;
    const head = await this.#reader.head(t);
    if (head === null) throw new Error(`connection closed before a response (${JSON.stringify(this.#reader.buf.toString('latin1').slice(0, 100))})`);
    const { line, headers } = parseHead(head);
    const status = Number(line.split(' ')[1]);
    const header = (name: string): string | undefined => find(headers, name);
    const te = header('transfer-encoding');
    const cl = header('content-length');
    let body: Buffer = Buffer.alloc(0);
    let trailers: HeaderList = [];
    let framing: RawResponse['framing'] = 'none';
    if (opts.noBody || status < 200 || status === 204 || status === 304) framing = 'none';
    else if (te !== undefined && /chunked/i.test(te)) {
      const c = await this.#reader.chunked(t);
      if (c === null) throw new Error('connection closed in a chunked body');
      body = c.body;
      trailers = c.trailers;
      framing = 'chunked';
    } else if (cl !== undefined) {
      const b = await this.#reader.exactly(Number(cl), t);
      if (b === null) throw new Error(`connection closed in a body of ${cl} bytes`);
      body = b;
      framing = 'length';
    } else {
      body = await this.#reader.rest(t);
      framing = 'close';
    }
    return { status, statusLine: line, headers, body, trailers, framing, header };
  }

  /** Resolves true if the connection closes within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly head: string;
  readonly headers: HeaderList;
  readonly body: Buffer;
  readonly chunked: boolean;
  /** Requests served before this one on its connection. */
  readonly seq: number;
  /** The connection it came on. */
  readonly socket: Socket;
  header(name: string): string | undefined;
}

/** A backend connection as the handler sees it. */
export interface RawConn {
  readonly socket: Socket;
  /** Writes bytes (a response or part of one). */
  write(data: string | Buffer): boolean;
}

export type RawHandler = (req: RawRequest, conn: RawConn) => void;
/** Sees each request head before its body is read; true: it answered, the body is not read and the connection is closed after. */
export type RawHeadHandler = (req: RawRequest, conn: RawConn) => boolean;

/** Writes a plain response with Content-Length. */
export function respond(conn: RawConn, status: number, body: string | Buffer = '', headers: HeaderList = []): void {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  let head = `HTTP/1.1 ${status} X\r\n`;
  for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
  head += `content-length: ${b.length}\r\n\r\n`;
  conn.write(Buffer.concat([Buffer.from(head, 'latin1'), b]));
}

/** A backend that parses requests itself and lets the test write the bytes of each answer. */
export class RawBackend {
  readonly server: Server;
  readonly requests: RawRequest[] = [];
  readonly sockets = new Set<Socket>();
  connections = 0;
  port = 0;
  handler: RawHandler;
  onHead: RawHeadHandler | null = null;
  /** Every byte received, per connection, in arrival order. */
  readonly received: Buffer[][] = [];

  private constructor(handler: RawHandler) {
    this.handler = handler;
    this.server = createServer((s) => void this.#serve(s));
  }

  static async start(handler: RawHandler): Promise<RawBackend> {
    const b = new RawBackend(handler);
    await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
    b.port = (b.server.address() as AddressInfo).port;
    return b;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get open(): number {
    return this.sockets.size;
  }

  async #serve(s: Socket): Promise<void> {
    this.connections++;
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    const bytes: Buffer[] = [];
    this.received.push(bytes);
    s.on('data', (d: Buffer) => bytes.push(d));
    const r = new ByteReader(s);
    const conn: RawConn = { socket: s, write: (d) => (s.destroyed ? false : s.write(typeof d === 'string' ? Buffer.from(d, 'latin1') : d)) };
    try {
      for (let seq = 0; ; seq++) {
        const head = await r.head(3_600_000);
        if (head === null) return;
        const { line, headers } = parseHead(head);
        const [method, target, version] = line.split(' ') as [string, string, string];
        const header = (name: string): string | undefined => find(headers, name);
        let body: Buffer = Buffer.alloc(0);
        const te = header('transfer-encoding');
        const chunked = te !== undefined && /chunked/i.test(te);
        if (this.onHead !== null) {
          const early: RawRequest = { method, target, version, head, headers, body: Buffer.alloc(0), chunked: false, seq, header, socket: s };
          if (this.onHead(early, conn)) {
            this.requests.push(early);
            s.end();
            return;
          }
        }
        if (find(headers, 'expect')?.toLowerCase() === '100-continue') conn.write('HTTP/1.1 100 Continue\r\n\r\n');
        if (chunked) body = (await r.chunked(30_000))?.body ?? body;
        else if (header('content-length') !== undefined) body = (await r.exactly(Number(header('content-length')), 30_000)) ?? body;
        const req: RawRequest = { method, target, version, head, headers, body, chunked, seq, header, socket: s };
        this.requests.push(req);
        this.handler(req, conn);
      }
    } catch {
      s.destroy();
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

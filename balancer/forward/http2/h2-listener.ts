import { constants, createServer, type Http2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ProxyProtocolGate } from '../../edge/proxy-protocol-gate.js';
import type { Logger } from '../../../common/logger.js';
import type { EngineForwarder } from '../engine-forwarder.js';
import { clientAddress, evaluateRequest, newVerdict } from '../request-policy.js';
import { H2Client, type H2StreamOwner } from './h2-client.js';
import { translateH2Head } from './h2-request.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = constants;

export interface H2Options {
  /** Streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxStreams: number;
  /**
   * The HPACK dynamic table of the answers' headers (Node's
   * maxDeflateDynamicTableSize); 0: static table and Huffman only, which
   * costs a few bytes per answer and saves nghttp2's table upkeep.
   */
  readonly headerTableSize: number;
  /** Largest request head, weighed as HTTP/1.1 would (--max-header-size): 431 past it. */
  readonly maxHeaderSize: number;
  /** Most fields in a request (the request policy answers 431 past it; nghttp2 refuses far past it). */
  readonly maxHeaders: number;
  /** A connection with no open stream closes after this long without traffic (--keepalive-timeout). */
  readonly idleTimeoutMs: number;
  /**
   * Streams the client resets before their answer is complete (the "rapid
   * reset" attack, CVE-2023-44487): once a connection has opened this many
   * streams and more than half of them were reset so, it is closed with
   * GOAWAY ENHANCE_YOUR_CALM (and counts as a strike towards a ban).
   */
  readonly resetJudgedAfter: number;
  readonly logger: Logger;
}

/** Per connection: its open streams and the client's resets (for the rapid-reset rule). */
class SessionWatch implements H2StreamOwner {
  streams = 0;
  open = 0;
  aborted = 0;
  drainingSince = 0;
  constructor(
    readonly session: Http2Session,
    readonly clientIp: string,
    readonly listener: H2Listener,
  ) {}

  streamAborted(): void {
    this.aborted++;
    this.listener.judgeResets(this);
  }
}

/**
 * HTTP/2 to clients: on the HTTPS port for connections that chose `h2` by
 * ALPN, and with --h2c-port on a cleartext port of its own (prior knowledge
 * only; an HTTP/1.1 `Upgrade: h2c` is never honoured). Node's HTTP/2
 * (nghttp2) does the framing, HPACK, flow control and the protocol's own
 * checks; each stream is a request through the one request core (h2-client.ts),
 * its head translated to the request policy's terms (h2-request.ts), so retries,
 * limits, headers, errors, the explain header and the access log are HTTP/1.1's.
 *
 * Limits (docs/edge.md): concurrent streams per connection, the header list's
 * size and field count, no server push, the rapid-reset rule above; nghttp2
 * bounds CONTINUATION frames, SETTINGS, PING and invalid frames itself.
 * Shutdown: a GOAWAY that still admits streams in flight, then after the idle grace the
 * final GOAWAY (streams already open finish), then the connection closes.
 */
export class H2Listener {
  readonly #server: Http2Server;
  readonly #forwarder: EngineForwarder;
  readonly #options: H2Options;
  readonly #sessions = new Map<Http2Session, SessionWatch>();
  #cleartext: NetServer | undefined;
  /** The connection being handed to the HTTP/2 server (its session is made meanwhile). */
  #incoming: { remoteAddress?: string } | undefined;
  /** Connections closed by the rapid-reset rule. */
  resetFloods = 0;

  constructor(forwarder: EngineForwarder, options: H2Options) {
    this.#forwarder = forwarder;
    this.#options = options;
    this.#server = createServer({
      // Twice the request policy's bounds: between the two, the client gets the same 431 as over HTTP/1.1; past them, a reset.
      settings: { maxConcurrentStreams: options.maxStreams, maxHeaderListSize: 2 * options.maxHeaderSize + 32 * options.maxHeaders, enablePush: false },
      maxHeaderListPairs: 2 * options.maxHeaders + 8,
      // Streams refused for being over the limit, per connection, before it is closed (nghttp2's rejected-stream count).
      maxSessionRejectedStreams: 100,
      maxDeflateDynamicTableSize: options.headerTableSize,
      maxSessionInvalidFrames: 100,
      strictFieldWhitespaceValidation: true,
    });
    this.#server.on('session', (s: Http2Session) => this.#onSession(s));
    this.#server.on('stream', (stream: ServerHttp2Stream, _h: unknown, flags: number, raw: string[]) => this.#onStream(stream, flags, raw));
    this.#server.on('sessionError', (err: Error) => options.logger.debug({ err: err.message }, 'HTTP/2 connection error'));
    this.#server.on('error', (err: Error) => options.logger.error({ err }, 'HTTP/2 server error'));
  }

  /** Serves one connection (TLS that chose h2, or a cleartext one from the h2c port, or the stream after its PROXY header). */
  serve(socket: Socket | Duplex): void {
    // The session is made while this runs; it takes its peer from here (session.socket hides a stream's own fields).
    this.#incoming = socket as { remoteAddress?: string };
    try {
      this.#server.emit('connection', socket);
    } finally {
      this.#incoming = undefined;
    }
  }

  /** Listens for cleartext HTTP/2 (prior knowledge) on `port`; `proxyProtocol`: trusted peers send a PROXY header first. */
  listenCleartext(port: number, host: string, proxyProtocol?: ProxyProtocolGate): Promise<AddressInfo> {
    const server = createNetServer({ noDelay: true }, (socket) => this.serve(socket));
    proxyProtocol?.intercept(server, true);
    this.#cleartext = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.#options.logger.error({ err }, 'h2c listening socket error'));
        resolve(server.address() as AddressInfo);
      });
    });
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** The rapid-reset rule (H2Options.resetJudgedAfter). */
  judgeResets(w: SessionWatch): void {
    if (w.streams < this.#options.resetJudgedAfter || w.aborted * 2 <= w.streams || w.session.destroyed) return;
    this.resetFloods++;
    this.#options.logger.warn(
      { client: w.clientIp, streams: w.streams, reset: w.aborted },
      'HTTP/2 connection closed: most of its streams were reset by the client',
    );
    this.#forwarder.host.gate.strike(w.clientIp, 'SWY_BAD_REQUEST');
    w.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    w.session.destroy();
  }

  /**
   * Shutdown: first a GOAWAY that admits any stream (clients stop opening new
   * ones), then, once `ms` have passed, the final one; open streams finish.
   */
  closeIdleConnections(ms: number): void {
    const now = Date.now();
    for (const w of this.#sessions.values()) {
      const s = w.session;
      if (s.closed || s.destroyed) continue;
      if (w.drainingSince === 0) {
        w.drainingSince = now;
        s.goaway(NGHTTP2_NO_ERROR, 2 ** 31 - 1);
      } else if (now - w.drainingSince >= ms) s.close();
    }
  }

  closeAllConnections(): void {
    for (const s of this.#sessions.keys()) s.destroy();
  }

  /** Stops the cleartext port; resolves once its connections have closed. */
  close(): Promise<void> {
    const server = this.#cleartext;
    if (server === undefined || !server.listening) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  #onSession(s: Http2Session): void {
    const socket = this.#incoming ?? (s.socket as Socket | undefined);
    const w = new SessionWatch(s, clientAddress(socket?.remoteAddress), this);
    this.#sessions.set(s, w);
    s.on('error', () => undefined);
    s.on('close', () => this.#sessions.delete(s));
    s.setTimeout(this.#options.idleTimeoutMs, () => {
      if (w.open === 0) s.close();
    });
  }

  #onStream(stream: ServerHttp2Stream, flags: number, raw: string[]): void {
    stream.on('error', () => undefined);
    const w = this.#sessions.get(stream.session!);
    if (w === undefined) {
      stream.close(NGHTTP2_NO_ERROR);
      return;
    }
    w.streams++;
    w.open++;
    stream.once('close', () => w.open--);
    const fw = this.#forwarder;
    const head = translateH2Head(raw, (flags & NGHTTP2_FLAG_END_STREAM) !== 0, this.#options.maxHeaderSize);
    const encrypted = (stream.session!.socket as TLSSocket).encrypted === true;
    const facts = {
      method: head.method,
      target: head.target,
      major: 1,
      minor: 1,
      headers: head.headers,
      clientIp: w.clientIp,
      proto: encrypted ? 'https' : 'http',
    };
    const v = evaluateRequest(facts, fw.policy, fw.requestId, newVerdict());
    v.refusal ??= head.refusal;
    new H2Client(fw, w, stream, head.method, v, head.headers);
  }
}

import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/*
 * A raw HTTP/2 client for hostile-input tests: it writes frames as given, so a
 * test can send what Node's own http2 client refuses to (uppercase names,
 * connection-specific fields, CR/LF in values, a Content-Length the DATA
 * frames contradict, floods of CONTINUATION or RST_STREAM frames). Header
 * blocks are HPACK literals without indexing and without Huffman coding.
 * Of what comes back it decodes the frame headers, and a response's status
 * when it is the first field of the block (how Node's server writes it).
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const enum FrameType {
  Data = 0,
  Headers = 1,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}

export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
export const ACK = 0x1;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/** A header block of literal fields, without indexing, names and values as given. */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0x00]), hpackString(n), hpackString(v)]));
}

/** The decoded frames a server sent. */
export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

// Huffman codes of the ten digits (RFC 7541 appendix B): enough to read a :status literal.
const DIGIT_CODES: readonly [number, number][] = [
  [0b00000, 5],
  [0b00001, 5],
  [0b00010, 5],
  [0b011001, 6],
  [0b011010, 6],
  [0b011011, 6],
  [0b011100, 6],
  [0b011101, 6],
  [0b011110, 6],
  [0b011111, 6],
];
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

function huffmanDigits(bytes: Buffer): string {
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  let i = 0;
  outer: while (i < bits.length) {
    for (let d = 0; d < 10; d++) {
      const [code, len] = DIGIT_CODES[d]!;
      if (i + len <= bits.length && parseInt(bits.slice(i, i + len), 2) === code) {
        out += String(d);
        i += len;
        continue outer;
      }
    }
    break; // padding (all ones)
  }
  return out;
}

/** The :status of a response header block whose first field it is; undefined when it cannot tell. */
export function statusOf(whole: Buffer): number | undefined {
  // Dynamic table size updates (001xxxxx, a 5-bit prefix integer) may come first.
  let at = 0;
  while (at < whole.length && (whole[at]! & 0xe0) === 0x20) {
    if ((whole[at++]! & 0x1f) === 0x1f) while (at < whole.length && whole[at++]! & 0x80);
  }
  const block = whole.subarray(at);
  const b = block[0];
  if (b === undefined) return undefined;
  if (b & 0x80) return STATIC_STATUS[b & 0x7f];
  // A literal whose name is static entry 8 (:status), with or without indexing.
  const nameIndex = b & 0x40 ? b & 0x3f : b & 0x0f;
  if (nameIndex !== 8) return undefined;
  const lenByte = block[1]!;
  const len = lenByte & 0x7f;
  const raw = block.subarray(2, 2 + len);
  return Number(lenByte & 0x80 ? huffmanDigits(raw) : raw.toString('latin1'));
}

/** One raw HTTP/2 connection (prior knowledge over TCP, or h2 by ALPN over TLS). */
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  readonly #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  readonly #pending: { id: number; bytes: Buffer; end: boolean }[] = [];
  #connWindow = 65_535;
  #initialWindow = 65_535;
  readonly #streamWindows = new Map<number, number>();
  readonly #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  /** Connects, sends the preface and an empty SETTINGS, and acknowledges the server's. */
  static open(port: number, tls?: { ca: Buffer; servername?: string }): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const socket =
        tls === undefined
          ? tcpConnect({ host: '127.0.0.1', port })
          : tlsConnect({ host: '127.0.0.1', port, ca: tls.ca, servername: tls.servername ?? 'localhost', ALPNProtocols: ['h2'] });
      socket.once('error', reject);
      socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
        socket.off('error', reject);
        const c = new RawH2(socket);
        c.write(Buffer.concat([PREFACE, frame(FrameType.Settings, 0, 0)]));
        resolve(c);
      });
    });
  }

  write(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  /** HEADERS (one frame, END_HEADERS) on `streamId`, ending the stream unless a body follows. */
  request(streamId: number, fields: readonly (readonly [string, string])[], endStream = true): void {
    const block = headerBlock(fields);
    const end = endStream ? END_STREAM : 0;
    // Blocks past the default frame size go on in CONTINUATION frames.
    const parts: Buffer[] = [];
    for (let i = 0; i < block.length || parts.length === 0; i += 16_384) parts.push(block.subarray(i, i + 16_384));
    this.write(
      Buffer.concat(
        parts.map((p, i) =>
          frame(i === 0 ? FrameType.Headers : FrameType.Continuation, (i === 0 ? end : 0) | (i === parts.length - 1 ? END_HEADERS : 0), streamId, p),
        ),
      ),
    );
  }

  /** DATA in frames of at most 16 KiB, as the server's flow-control windows allow (queued until they do). */
  data(streamId: number, body: Buffer | string, endStream = true): void {
    this.#pending.push({ id: streamId, bytes: Buffer.from(body), end: endStream });
    this.#pump();
  }

  #window(id: number): number {
    return this.#streamWindows.get(id) ?? this.#initialWindow;
  }

  #pump(): void {
    while (this.#pending.length > 0) {
      const p = this.#pending[0]!;
      const n = Math.min(16_384, p.bytes.length, this.#connWindow, this.#window(p.id));
      if (n <= 0 && p.bytes.length > 0) return;
      const last = n === p.bytes.length;
      this.write(frame(FrameType.Data, last && p.end ? END_STREAM : 0, p.id, p.bytes.subarray(0, n)));
      this.#connWindow -= n;
      this.#streamWindows.set(p.id, this.#window(p.id) - n);
      p.bytes = p.bytes.subarray(n);
      if (last) this.#pending.shift();
    }
  }

  /** Resolves when `test` holds of the frames so far (or the connection closed), within `ms`. */
  async until(test: (frames: readonly Frame[]) => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!test(this.frames)) {
      if (this.closed || Date.now() > end) return test(this.frames);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** What became of stream `id`: its status, a reset (with its error code), or the connection's GOAWAY. */
  async outcome(id: number, ms = 5000): Promise<{ status?: number; reset?: number; goaway?: number; closed: boolean }> {
    await this.until(
      (fs) =>
        fs.some((f) => f.streamId === id && (f.type === FrameType.Headers || f.type === FrameType.RstStream)) || fs.some((f) => f.type === FrameType.GoAway),
      ms,
    );
    const h = this.frames.find((f) => f.streamId === id && f.type === FrameType.Headers);
    const r = this.frames.find((f) => f.streamId === id && f.type === FrameType.RstStream);
    const g = this.frames.find((f) => f.type === FrameType.GoAway);
    return {
      status: h === undefined ? undefined : statusOf(h.payload),
      reset: r?.payload.readUInt32BE(0),
      goaway: g?.payload.readUInt32BE(4),
      closed: this.closed,
    };
  }

  /** The DATA of stream `id` so far. */
  body(id: number): Buffer {
    return Buffer.concat(this.frames.filter((f) => f.streamId === id && f.type === FrameType.Data).map((f) => f.payload));
  }

  /** Resolves once stream `id` has ended (END_STREAM or a reset) or the connection closed; its status and body. */
  async response(id: number, ms = 5000): Promise<{ status?: number; reset?: number; goaway?: number; body: Buffer }> {
    const ended = (f: Frame): boolean =>
      f.streamId === id && (f.type === FrameType.RstStream || ((f.type === FrameType.Data || f.type === FrameType.Headers) && (f.flags & END_STREAM) !== 0));
    await this.until((fs) => fs.some(ended) || fs.some((f) => f.type === FrameType.GoAway), ms);
    return { ...(await this.outcome(id, 0)), body: this.body(id) };
  }

  /** A setting the server sent in its first SETTINGS frame (RFC 9113 §6.5.2 identifiers). */
  setting(id: number): number | undefined {
    const f = this.frames.find((x) => x.type === FrameType.Settings && !(x.flags & ACK));
    if (f === undefined) return undefined;
    for (let i = 0; i + 6 <= f.payload.length; i += 6) if (f.payload.readUInt16BE(i) === id) return f.payload.readUInt32BE(i + 2);
    return undefined;
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    while (this.#buf.length >= 9) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + len) break;
      const f = { type: this.#buf[3]!, flags: this.#buf[4]!, streamId: this.#buf.readUInt32BE(5) & 0x7fffffff, payload: this.#buf.subarray(9, 9 + len) };
      this.#buf = this.#buf.subarray(9 + len);
      if (f.type === FrameType.Settings && !(f.flags & ACK)) {
        for (let i = 0; i + 6 <= f.payload.length; i += 6) if (f.payload.readUInt16BE(i) === 0x4) this.#initialWindow = f.payload.readUInt32BE(i + 2);
        this.write(frame(FrameType.Settings, ACK, 0));
      }
      if (f.type === FrameType.WindowUpdate) {
        const inc = f.payload.readUInt32BE(0) & 0x7fffffff;
        if (f.streamId === 0) this.#connWindow += inc;
        else this.#streamWindows.set(f.streamId, this.#window(f.streamId) + inc);
      }
      if (f.type === FrameType.Ping && !(f.flags & ACK)) this.write(frame(FrameType.Ping, ACK, 0, f.payload));
      if (f.type === FrameType.Data && len > 0) {
        // Everything read is consumed: the windows open again by as much.
        const inc = Buffer.alloc(4);
        inc.writeUInt32BE(len);
        this.write(Buffer.concat([frame(FrameType.WindowUpdate, 0, 0, inc), frame(FrameType.WindowUpdate, 0, f.streamId, inc)]));
      }
      this.frames.push(f);
    }
    this.#pump();
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

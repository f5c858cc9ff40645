import type { Socket } from 'node:net';

/**
 * Accepted connections read into one shared buffer, as `net.connect({ onread })`
 * lets outgoing ones do: no Buffer, no stream push and no 'data' event per
 * read. Node takes `onread` only for sockets it connects, so this sets the
 * fields the Socket constructor sets from that option (found by their
 * symbols' descriptions) and has the handle read into the buffer. Where
 * Node's internals are not as expected, or the socket is not plain TCP,
 * nothing is changed and false comes back: the caller listens to 'data'.
 *
 * `onRead` runs with `this` = the socket and the number of bytes read into
 * SHARED_READ_BUFFER; they are valid only until it returns (anything kept is
 * copied). Returning false stops reading until the socket is resumed.
 */
export const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export type SharedReadCallback = (this: Socket, n: number) => boolean;

interface Internals {
  readonly buffer: symbol;
  readonly callback: symbol;
}
let internals: Internals | null | undefined;

function find(socket: Socket): Internals | null {
  const syms = Object.getOwnPropertySymbols(socket);
  const buffer = syms.find((s) => s.description === 'kBuffer');
  const callback = syms.find((s) => s.description === 'kBufferCb');
  return buffer && callback ? { buffer, callback } : null;
}

/** Set on a socket whose PROXY protocol header was read (edge/proxy-protocol-gate.ts). */
const PROXIED = Symbol.for('switchyard.proxySource');

type Fields = Record<symbol, unknown> & { _handle?: { useUserBuffer?: (b: Buffer) => void } | null; encrypted?: boolean };

export function readIntoSharedBuffer(socket: Socket, onRead: SharedReadCallback): boolean {
  const s = socket as unknown as Fields;
  const handle = s._handle;
  if (s.encrypted !== undefined || typeof handle?.useUserBuffer !== 'function') return false;
  // Bytes already read into the stream (put back after a PROXY protocol header) come by 'data' events only.
  if (socket.readableLength > 0 || s[PROXIED] !== undefined) return false;
  internals ??= find(socket);
  if (internals === null || s[internals.buffer] !== null || s[internals.callback] !== null) return false;
  s[internals.buffer] = SHARED_READ_BUFFER;
  s[internals.callback] = onRead;
  handle.useUserBuffer(SHARED_READ_BUFFER);
  return true;
}

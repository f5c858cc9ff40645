import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * One GET with `Connection: close` (no socket left open in the server under
 * test): status and headers, or undefined. An https URL is not verified: the
 * bench made its certificate a moment ago, and this only asks whether it serves.
 */
export function probe(url: string, timeoutMs = 2000): Promise<{ status: number; headers: Record<string, string | string[] | undefined> } | undefined> {
  return new Promise((resolve) => {
    const options = { agent: false as const, headers: { connection: 'close' }, timeout: timeoutMs };
    const send = (onResponse: (res: IncomingMessage) => void): ClientRequest =>
      url.startsWith('https:') ? httpsRequest(url, { ...options, rejectUnauthorized: false }, onResponse) : request(url, options, onResponse);
    const req = send((res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Polls `url` until `ok` accepts an answer; throws after `timeoutMs`. */
export async function waitServing(url: string, timeoutMs: number, ok: (r: { status: number; headers: Record<string, string | string[] | undefined> }) => boolean = (r) => r.status === 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe(url);
    if (r && ok(r)) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${r ? ` (last status ${r.status})` : ''}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The TLS version and cipher a default OpenSSL client negotiates with `url` (ALPN http/1.1, as wrk), e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
export function tlsSession(url: string, timeoutMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], timeout: timeoutMs }, () => {
      const session = `${socket.getProtocol() ?? '?'} ${socket.getCipher().standardName}`;
      socket.end();
      resolve(session);
    });
    socket.on('timeout', () => socket.destroy(new Error(`no TLS handshake with ${url} within ${timeoutMs} ms`)));
    socket.on('error', reject);
  });
}

import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * One active health check: GET <path> on a fresh connection, with
 * `Connection: close`, judged by the final status line alone. A check needs
 * nothing of the response but its status, so it reads up to the final status
 * line and closes: a third of the CPU of a full HTTP client per check, which
 * is what 10,000 backends checked every 2 s cost (docs/performance.md,
 * "Registry scale"). Interim 1xx responses (100 Continue, 103 Early Hints) say
 * nothing of the backend's health: they are skipped, headers and all.
 */
export interface ProbeTarget {
  readonly tls: boolean;
  /** Connect address: a name or an IP, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** The request head, built once per target. */
  readonly head: string;
}

export type ProbeResult = { readonly status: number } | { readonly error: string };

/** The longest status line read before the check gives up on the answer. */
const MAX_STATUS_LINE = 1024;
/** The most bytes read before the final status line, interim responses included: a backend sending 1xx after 1xx fails its check. */
const MAX_HEAD = 8192;
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: [^\r\n]*)?$/;

/** Builds what every check of `origin` sends; undefined when the origin is not http(s). */
export function probeTarget(origin: string, path: string, userAgent: string): ProbeTarget | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const tls = u.protocol === 'https:';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : tls ? 443 : 80;
  const head = `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: ${userAgent}\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
  return { tls, host, port, head };
}

/** Runs one check; never rejects. `timeoutMs` bounds connect and answer together. */
export function probe(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    let head = '';
    let socket: Socket;
    try {
      socket = connectTo(target);
    } catch (err) {
      // An address connect refuses outright (a bad port, a bad host) is a failed check like any other.
      const e = err as Error & { code?: string };
      return resolve({ error: e.code ?? e.message });
    }
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), timeoutMs);
    socket.setNoDelay(true);
    socket.once(target.tls ? 'secureConnect' : 'connect', () => socket.write(target.head));
    socket.on('data', (chunk: Buffer) => {
      // Only the head is read: a large body is never decoded.
      head += chunk.toString('latin1', 0, Math.min(chunk.length, MAX_HEAD - head.length));
      const r = finalStatus(head);
      if (r) finish(r);
      else if (head.length >= MAX_HEAD) finish({ error: 'interim responses too long' });
    });
    socket.on('end', () => finish({ error: 'closed before a status line' }));
    socket.on('close', () => finish({ error: 'closed before a status line' }));
    socket.on('error', (err: Error & { code?: string }) => finish({ error: err.code ?? err.message }));
  });
}

function connectTo(target: ProbeTarget): Socket {
  return target.tls
    ? tlsConnect({ host: target.host, port: target.port, servername: isIP(target.host) ? undefined : target.host, ALPNProtocols: ['http/1.1'] })
    : netConnect({ host: target.host, port: target.port });
}

/**
 * The verdict on the head read so far: the final status, an error, or
 * undefined while more is needed. Interim responses before it are skipped up
 * to the blank line that ends their headers; 101 is final (nothing asked to
 * switch protocols, so the check fails on it).
 */
export function finalStatus(head: string): ProbeResult | undefined {
  let at = 0;
  for (;;) {
    const eol = head.indexOf('\r\n', at);
    if (eol === -1) return head.length - at > MAX_STATUS_LINE ? { error: 'bad status line' } : undefined;
    const m = STATUS_LINE.exec(head.slice(at, eol));
    if (!m) return { error: 'bad status line' };
    const status = Number(m[1]);
    if (status >= 200 || status === 101) return { status };
    const end = head.indexOf('\r\n\r\n', eol);
    if (end === -1) return undefined;
    at = end + 4;
  }
}

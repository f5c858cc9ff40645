import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * One active health check: GET <path> on a fresh connection, with
 * `Connection: close`, judged by the status line alone. A check needs nothing
 * of the response but its status, so it reads the first line and closes: a
 * third of the CPU of a full HTTP client per check, which is what 10,000
 * backends checked every 2 s cost (docs/performance.md, "Registry scale").
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
    let line = '';
    const socket: Socket = target.tls
      ? tlsConnect({ host: target.host, port: target.port, servername: isIP(target.host) ? undefined : target.host, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host: target.host, port: target.port });
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
      line += chunk.toString('latin1', 0, Math.min(chunk.length, MAX_STATUS_LINE + 2));
      const end = line.indexOf('\r\n');
      if (end === -1) {
        if (line.length > MAX_STATUS_LINE) finish({ error: 'bad status line' });
        return;
      }
      const m = STATUS_LINE.exec(line.slice(0, end));
      finish(m ? { status: Number(m[1]) } : { error: 'bad status line' });
    });
    socket.on('end', () => finish({ error: 'closed before a status line' }));
    socket.on('close', () => finish({ error: 'closed before a status line' }));
    socket.on('error', (err: Error & { code?: string }) => finish({ error: err.code ?? err.message }));
  });
}

import { createServer } from 'node:net';

/** Ports handed out by this process, never handed out twice. */
const given = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, chosen below the kernel's
 * ephemeral range (32768-60999 here): a port the kernel picked for `listen(0)`
 * can be taken by any outgoing connection before the test listens on it, which
 * made a balancer fail with EADDRINUSE now and then.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (given.has(port)) continue;
    given.add(port); // reserved before the check, so concurrent callers never share one
    if (await isFree(port)) return port;
  }
  throw new Error('no free port found below the ephemeral range');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The first of `n` consecutive ports that were all free a moment ago (outside the ephemeral range). */
export async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000 - n);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = !given.has(p) && (await isFree(p));
    if (ok) {
      for (let p = base; p < base + n; p++) given.add(p);
      return base;
    }
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

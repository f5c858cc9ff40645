// The bench's baseline forwarder: node:http server + one undici Pool per backend driven
// through Pool.dispatch(), round robin, hop-by-hop headers stripped, nothing else (no
// X-Forwarded-For, request id, X-Backend, retries, health checks or metrics). Switchyard's CPU
// per request is compared with this loop's.
// Usage: node undici-loop.js --port P --backends http://127.0.0.1:a,http://127.0.0.1:b
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'host']);

/** Request headers without hop-by-hop ones, as a flat [name, value, ...] list. */
export function forwardableHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

class Forward implements Dispatcher.DispatchHandler {
  readonly res: ServerResponse;
  constructor(res: ServerResponse) {
    this.res = res;
  }
  onConnect(): void {}
  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    const out: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
      out.push(name, rawHeaders[i + 1]!.toString('latin1'));
    }
    this.res.writeHead(statusCode, out);
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.res.write(chunk);
    return true;
  }
  onComplete(): void {
    this.res.end();
  }
  onError(): void {
    if (!this.res.headersSent) {
      this.res.writeHead(502, { 'content-length': '0' });
      this.res.end();
    } else {
      this.res.destroy();
    }
  }
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string' }, backends: { type: 'string' }, connections: { type: 'string', default: '512' } } });
  const pools = String(values.backends).split(',').map((u) => new Pool(u, { connections: Number(values.connections), pipelining: 1 }));
  let next = 0;
  const server = createServer({ keepAliveTimeout: 65_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const pool = pools[next++ % pools.length]!;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: forwardableHeaders(req.rawHeaders), body: hasBody ? req : null }, new Forward(res));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.listen(Number(values.port), '127.0.0.1', () => console.log(`listening ${Number(values.port)}`));
  process.on('SIGTERM', () => process.exit(0));
}

main();

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * Raw TCP servers on 127.0.0.1 for tests that script a backend byte by byte
 * (status lines, interim responses, silence). close() ends every one and
 * every connection they accepted.
 */
export class RawTcpServers {
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  /** A server that hands each connection to `onConnection`; resolves its http:// URL. */
  async start(onConnection: (s: Socket) => void, backlog = 511): Promise<string> {
    const srv = createServer((s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => undefined);
      onConnection(s);
    });
    this.#servers.push(srv);
    await new Promise<void>((r) => srv.listen({ port: 0, host: '127.0.0.1', backlog }, () => r()));
    return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    for (const s of this.#servers) await new Promise<void>((r) => s.close(() => r()));
  }
}

import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type HttpSocket = Socket & { _httpMessage?: ServerResponse | null };

/** What a socket had moved when it was last seen, and since when it has not moved. */
interface Sample {
  read: number;
  written: number;
  since: number;
}

/**
 * The client connections http.Server serves, and at shutdown those idle for a while:
 * no response under way and no byte moved in either direction since they were last
 * seen. (Node's closeIdleConnections() closes idle ones at once, racing requests
 * already on their way.) Upgraded sockets leave: their tunnels close them.
 */
export class IdleSockets {
  readonly #sockets = new Set<HttpSocket>();
  readonly #seen = new Map<HttpSocket, Sample>();

  /** Follows `server`'s connections; call before anything takes over its 'connection' event (handed-over sockets come here too). */
  track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.forget(socket));
    });
  }

  forget(socket: Socket): void {
    this.#sockets.delete(socket);
    this.#seen.delete(socket);
  }

  /** Closes the connections seen idle for at least `ms` by now; the first call only starts watching. */
  closeIdleFor(ms: number, now = Date.now()): void {
    for (const s of this.#sockets) {
      if (s._httpMessage) {
        this.#seen.delete(s);
        continue;
      }
      const seen = this.#seen.get(s);
      if (seen === undefined || seen.read !== s.bytesRead || seen.written !== s.bytesWritten) {
        this.#seen.set(s, { read: s.bytesRead, written: s.bytesWritten, since: now });
      } else if (now - seen.since >= ms) {
        s.destroy();
      }
    }
  }
}

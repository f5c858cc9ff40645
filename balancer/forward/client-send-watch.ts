import type { ServerResponse } from 'node:http';

const kLimit = Symbol('switchyard.clientSendLimit');
type Watched = ServerResponse & { [kLimit]?: number };

/**
 * The client send timeout for a response written through Node's
 * http.Server: when the socket has been idle for `ms` while response bytes
 * wait for the client, the client is cut ('close' follows, and the engine
 * frees the backend connection as cancelled). Idle for another reason (the
 * backend is slow), the watch simply goes on.
 */
export function watchClientSend(res: ServerResponse, ms: number): void {
  if (ms <= 0) return;
  (res as Watched)[kLimit] = ms;
  res.setTimeout(ms, onTimeout);
}

/** The response is done: the socket's timer must not outlive it (the next request on it has its own). */
export function unwatchClientSend(res: ServerResponse): void {
  if ((res as Watched)[kLimit] === undefined) return;
  (res as Watched)[kLimit] = undefined;
  res.removeListener('timeout', onTimeout);
  res.socket?.setTimeout(0);
}

function onTimeout(this: Watched): void {
  const ms = this[kLimit];
  if (ms === undefined) return;
  if (this.writableLength > 0) this.destroy();
  else this.socket?.setTimeout(ms);
}

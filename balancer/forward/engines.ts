import { EngineForwarder, type ForwarderOptions } from './engine-forwarder.js';
import type { EngineName, EngineTransport, ForwardHost } from './forwarder.js';
import { llhttpUnsupported } from './http1/http-parser.js';
import { RawTransport } from './raw/raw-transport.js';
import { UndiciTransport } from './undici/undici-transport.js';

export interface EngineOptions extends ForwarderOptions {
  readonly engine: EngineName;
}

/** The request path over the engine `--engine` names and the listener `--listener` names. */
export function createForwarder(host: ForwardHost, options: EngineOptions): EngineForwarder {
  return new EngineForwarder(options.engine, host, options, createTransport(options.engine, host, options));
}

function createTransport(engine: EngineName, host: ForwardHost, options: EngineOptions): EngineTransport {
  const requestTimeoutMs = host.settings.requestTimeoutMs ?? 0;
  const clientSendTimeoutMs = host.limits.clientSendTimeoutMs;
  switch (engine) {
    case 'raw': {
      const unsupported = llhttpUnsupported();
      if (unsupported !== undefined) throw new Error(`${unsupported}; run the balancer with --engine undici --listener http-server`);
      return new RawTransport(options.pool, requestTimeoutMs, clientSendTimeoutMs);
    }
    case 'undici':
      return new UndiciTransport({ ...options.pool, requestTimeoutMs, clientSendTimeoutMs });
  }
}

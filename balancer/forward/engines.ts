import type { EngineName, Forwarder, ForwardHost, PoolOptions } from './forwarder.js';
import { RawForwarder } from './raw/raw-forwarder.js';
import { UndiciForwarder } from './undici/undici-forwarder.js';

export interface EngineOptions {
  readonly pool: PoolOptions;
  /** Largest request head a client may send (the raw engine parses heads itself). */
  readonly maxHeaderSize: number;
  readonly keepAliveTimeoutMs: number;
}

/** The forwarding engine `--engine` names, over the balancer it serves. */
export function createForwarder(engine: EngineName, host: ForwardHost, options: EngineOptions): Forwarder {
  switch (engine) {
    case 'raw':
      return new RawForwarder(host, options);
    case 'undici':
      return new UndiciForwarder(host, options.pool);
  }
}

import type { Logger } from './logger.js';

/** Every long-lived part: started once, closed once, in reverse order of start. */
export interface Lifecycle {
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface NamedPart extends Lifecycle {
  readonly name: string;
}

/**
 * Starts parts in order and closes the started ones in reverse order on
 * SIGTERM or SIGINT (or when `stop()` is called). A second signal, or the
 * close timeout, forces the exit.
 */
export class Supervisor {
  readonly #parts: NamedPart[] = [];
  readonly #started: NamedPart[] = [];
  readonly #logger: Logger;
  readonly #closeTimeoutMs: number;
  #stopping: Promise<void> | undefined;

  constructor(logger: Logger, closeTimeoutMs: number) {
    this.#logger = logger;
    this.#closeTimeoutMs = closeTimeoutMs;
  }

  add(part: NamedPart): this {
    this.#parts.push(part);
    return this;
  }

  async start(): Promise<void> {
    for (const part of this.#parts) {
      await part.start();
      this.#started.push(part);
    }
  }

  /** Installs the signal handlers; resolves the returned promise once closed. */
  handleSignals(onClosed: (code: number) => void): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#stopping) {
        this.#logger.warn({ signal }, 'second signal, exiting now');
        onClosed(130);
        return;
      }
      this.#logger.info({ signal }, 'shutting down');
      this.stop().then(
        () => onClosed(0),
        (err: unknown) => {
          this.#logger.error({ err }, 'shutdown failed');
          onClosed(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#closeAll();
    return this.#stopping;
  }

  async #closeAll(): Promise<void> {
    const timer = setTimeout(() => {
      this.#logger.error({ timeoutMs: this.#closeTimeoutMs }, 'shutdown timed out, exiting');
      process.exit(1);
    }, this.#closeTimeoutMs);
    timer.unref();
    for (const part of [...this.#started].reverse()) {
      try {
        await part.close();
        this.#logger.debug({ part: part.name }, 'closed');
      } catch (err) {
        this.#logger.error({ err, part: part.name }, 'close failed');
      }
    }
    clearTimeout(timer);
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One program of the stack, as a child process of ours. */
export interface StackChild {
  readonly name: string;
  readonly proc: ChildProcess;
  exited: boolean;
}

/** A demo backend: its ports, and the process serving them now (a new one after respawn). */
export interface StackBackend {
  readonly id: string;
  readonly port: number;
  readonly controlPort: number;
  child: StackChild;
  /** Stopped with SIGSTOP and not yet continued. */
  paused: boolean;
}

export interface DemoStackOptions {
  readonly backends: number;
  readonly port: number;
  readonly adminPort: number;
  readonly basePort: number;
  readonly controlBasePort: number;
  readonly strategy: string;
  readonly redis?: string;
  readonly logLevel: string;
  /** Appended to the balancer's arguments (a later flag wins). */
  readonly balancerArgs?: readonly string[];
  /** Appended to every backend's arguments. */
  readonly backendArgs?: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Each line a child writes (stdout or stderr). */
  readonly onLine: (name: string, line: string) => void;
  /** A child exited (not during close()). */
  readonly onExit?: (c: StackChild, code: number | null, signal: NodeJS.Signals | null) => void;
}

/**
 * The demo as processes: N `switchyard backend`s on consecutive ports and one
 * `switchyard balancer` in front of them (a static --backends list, or Redis).
 * Used by `switchyard demo` and by `switchyard chaos` on the local demo,
 * which also signals, pauses and restarts single backends.
 */
export class DemoStack {
  readonly backends: StackBackend[] = [];
  readonly #o: DemoStackOptions;
  readonly #self = [...process.execArgv, process.argv[1]!];
  #balancer: StackChild | undefined;
  #closing = false;

  constructor(options: DemoStackOptions, self?: readonly string[]) {
    this.#o = options;
    if (self) this.#self = [...self];
  }

  get balancer(): StackChild {
    return this.#balancer!;
  }

  get children(): StackChild[] {
    return [...this.backends.map((b) => b.child), ...(this.#balancer ? [this.#balancer] : [])];
  }

  /** Spawns every backend (backend-1 on --base-port, ...), then the balancer. */
  start(): void {
    const o = this.#o;
    for (let i = 0; i < o.backends; i++) {
      const id = `backend-${i + 1}`;
      const port = o.basePort + i;
      const controlPort = o.controlBasePort + i;
      this.backends.push({ id, port, controlPort, child: this.#spawnBackend(id, port, controlPort), paused: false });
    }
    const args = ['balancer', '--port', String(o.port), '--admin-port', String(o.adminPort), '--strategy', o.strategy];
    // Checks every second so a killed backend shows on the dashboard at once.
    args.push('--health-interval', '1s', '--health-timeout', '500ms');
    args.push('--backends', this.backends.map((b) => `${b.id}=http://127.0.0.1:${b.port}`).join(','));
    if (o.redis) args.push('--redis', o.redis);
    this.#balancer = this.#spawn('balancer', [...args, ...(o.balancerArgs ?? [])]);
  }

  backend(id: string): StackBackend | undefined {
    return this.backends.find((b) => b.id === id);
  }

  /** Sends `signal` to the backend's process now. */
  signal(b: StackBackend, signal: NodeJS.Signals): void {
    if (b.child.exited) return;
    b.child.proc.kill(signal);
    if (signal === 'SIGSTOP') b.paused = true;
    if (signal === 'SIGCONT') b.paused = false;
  }

  /** Starts the backend again when its process is gone (a no-op when it runs). */
  respawn(b: StackBackend): void {
    if (!b.child.exited) return;
    b.paused = false;
    b.child = this.#spawnBackend(b.id, b.port, b.controlPort);
  }

  /** Waits until the balancer answers /readyz with every backend routable (or `routable` of them). */
  async waitReady(timeoutMs: number, routable = this.backends.length): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.#balancer?.exited) {
      try {
        const r = await fetch(`http://127.0.0.1:${this.#o.adminPort}/readyz`);
        const body = (await r.json()) as { routableBackends?: number };
        if (r.ok && (body.routableBackends ?? 0) >= routable) return true;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /** Stops every child: paused ones are continued first, SIGTERM, then SIGKILL after 12 s. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const b of this.backends) if (b.paused) this.signal(b, 'SIGCONT');
    await Promise.all(this.children.map((c) => stopChild(c)));
  }

  #spawnBackend(id: string, port: number, controlPort: number): StackChild {
    const args = ['backend', '--port', String(port), '--host', '127.0.0.1', '--id', id, '--control-port', String(controlPort), '--control-host', '127.0.0.1'];
    return this.#spawn(id, [...args, ...(this.#o.backendArgs ?? [])]);
  }

  #spawn(name: string, args: string[]): StackChild {
    const env: NodeJS.ProcessEnv = { ...this.#o.env, SWITCHYARD_LOG_LEVEL: this.#o.logLevel };
    const proc = spawn(process.execPath, [...this.#self, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const child: StackChild = { name, proc, exited: false };
    for (const stream of [proc.stdout!, proc.stderr!]) createInterface({ input: stream }).on('line', (line) => this.#o.onLine(name, line));
    proc.on('error', (err) => this.#o.onLine(name, `${name}: ${err.message}`));
    proc.on('exit', (code, signal) => {
      child.exited = true;
      if (!this.#closing) this.#o.onExit?.(child, code, signal);
    });
    return child;
  }
}

function stopChild(c: StackChild): Promise<void> {
  if (c.exited || c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => c.proc.kill('SIGKILL'), 12_000);
    c.proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
}

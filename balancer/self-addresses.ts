import { networkInterfaces, hostname } from 'node:os';

/**
 * The addresses this balancer listens on (proxy and admin API), so a backend
 * URL that points back at it is refused before a request can loop: the admin
 * API answers 400, the registry entry is skipped with a warning. Names other
 * than `localhost` and this host's name are not resolved; Via (the request
 * policy's loop check, 508) catches what this cannot see.
 */
export class SelfAddresses {
  /** port -> hosts (lowercase literals and names) that reach this process on it. */
  readonly #byPort = new Map<number, Set<string>>();
  /** Verdicts by URL: every snapshot asks about every backend again (10,000 of them), the answers change only with add(). */
  readonly #verdicts = new Map<string, boolean>();

  constructor(listen: readonly { readonly host: string; readonly port: number }[] = []) {
    for (const l of listen) this.add(l.host, l.port);
  }

  /** Records one listening address; a wildcard host stands for every local address. */
  add(host: string, port: number): void {
    if (port <= 0) return;
    this.#verdicts.clear();
    let hosts = this.#byPort.get(port);
    if (hosts === undefined) this.#byPort.set(port, (hosts = new Set()));
    const h = normalise(host);
    if (h === '0.0.0.0' || h === '::' || h === '') for (const local of localHosts()) hosts.add(local);
    else {
      hosts.add(h);
      if (isLoopback(h)) for (const l of ['localhost', '127.0.0.1', '::1']) hosts.add(l);
    }
  }

  /** True when `url` (a backend origin) reaches one of the recorded addresses. */
  has(url: string): boolean {
    let verdict = this.#verdicts.get(url);
    if (verdict === undefined) {
      verdict = this.#check(url);
      if (this.#verdicts.size >= MAX_VERDICTS) this.#verdicts.clear();
      this.#verdicts.set(url, verdict);
    }
    return verdict;
  }

  #check(url: string): boolean {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    const hosts = this.#byPort.get(port);
    if (hosts === undefined) return false;
    const h = normalise(u.hostname);
    return hosts.has(h) || (isLoopback(h) && (hosts.has('127.0.0.1') || hosts.has('::1')));
  }
}

/** Verdicts kept at most (a registry larger than this is re-checked, not refused). */
const MAX_VERDICTS = 100_000;

function normalise(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function isLoopback(h: string): boolean {
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h === '::ffff:127.0.0.1';
}

function localHosts(): string[] {
  const out = ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::', hostname().toLowerCase()];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(normalise(a.address));
  return out;
}

/** The addresses a balancer's config says it listens on: the proxy and the admin API. */
export function configuredAddresses(config: {
  readonly host: string;
  readonly port: number;
  readonly adminHost: string;
  readonly adminPort: number;
}): SelfAddresses {
  return new SelfAddresses([
    { host: config.host, port: config.port },
    { host: config.adminHost, port: config.adminPort },
  ]);
}

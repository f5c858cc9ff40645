/** When a client is banned, and for how long. */
export interface BanSettings {
  /** Refused requests in one window that ban a client. */
  readonly after: number;
  readonly windowMs: number;
  readonly durationMs: number;
  /** Clients tracked (strikes and bans); past it, new strikes are not counted. */
  readonly maxClients: number;
}

export interface Ban {
  readonly client: string;
  /** When it ends (ms since the epoch). */
  readonly until: number;
  /** Why: the refusal that made it. */
  readonly reason: string;
  /** It is in the shared store (every balancer has it), not only here. */
  readonly shared?: boolean;
}

/**
 * Where strikes go when bans are shared (shared-edge.ts): counted there for
 * every balancer; `fallback` counts one here when the store cannot.
 */
export interface StrikeSink {
  strike(client: string, reason: string, fallback: () => void): void;
  lift(client: string): void;
}

/** Strikes in the current window of a client. */
interface Strikes {
  count: number;
  since: number;
}

/**
 * Automatic bans (docs/edge.md): a client refused `after` times within `windowMs` (rate
 * limited, or a request the policy refuses) is banned for `durationMs`: every request it sends
 * meanwhile is answered 403 at once. Bans end by themselves, or are lifted (the admin API).
 * Memory is bounded by `maxClients`; expired entries are dropped as time passes.
 * Shared (`--edge-store redis`): strikes are counted in Redis and the bans every
 * balancer made arrive here (`put`, `drop`, `replaceShared`); checking a client
 * stays a lookup in this table.
 */
export class BanList {
  readonly settings: BanSettings;
  readonly #strikes = new Map<string, Strikes>();
  readonly #bans = new Map<string, Ban>();
  #sweptAt = 0;
  #sink: StrikeSink | undefined;
  /** Bans made since start (here, or learnt from the shared store). */
  total = 0;

  constructor(settings: BanSettings) {
    this.settings = settings;
  }

  /** The ban on `client` in force at `now`, if any. */
  banned(client: string, now: number): Ban | undefined {
    if (this.#bans.size === 0) return undefined;
    const ban = this.#bans.get(client);
    if (ban === undefined) return undefined;
    if (ban.until > now) return ban;
    this.#bans.delete(client);
    return undefined;
  }

  /** Strikes go to `sink` from now on. */
  shareWith(sink: StrikeSink): void {
    this.#sink = sink;
  }

  /** Counts a refusal of `client`; returns the ban it made, if this one made it (shared: the store answers later). */
  strike(client: string, reason: string, now: number): Ban | undefined {
    if (client === '') return undefined;
    const sink = this.#sink;
    if (sink !== undefined) {
      sink.strike(client, reason, () => this.#strikeHere(client, reason, Date.now()));
      return undefined;
    }
    return this.#strikeHere(client, reason, now);
  }

  /** A ban from the shared store. */
  put(ban: Ban): void {
    const had = this.#bans.get(ban.client);
    if (had === undefined || had.until < ban.until) {
      if (had === undefined) this.total++;
      this.#bans.set(ban.client, ban);
    }
  }

  /** A ban lifted elsewhere. */
  drop(client: string): void {
    this.#bans.delete(client);
    this.#strikes.delete(client);
  }

  /** The shared store's bans replace those learnt from it before (bans made here while it was away stay). */
  replaceShared(bans: readonly Ban[]): void {
    const known = new Set<string>();
    for (const [c, b] of this.#bans)
      if (b.shared === true) {
        known.add(c);
        this.#bans.delete(c);
      }
    for (const b of bans) {
      if (known.has(b.client) && !this.#bans.has(b.client)) this.#bans.set(b.client, b);
      else this.put(b);
    }
  }

  #strikeHere(client: string, reason: string, now: number): Ban | undefined {
    const s = this.settings;
    if (now - this.#sweptAt > s.windowMs) this.#sweep(now);
    let st = this.#strikes.get(client);
    if (st === undefined || now - st.since > s.windowMs) {
      if (st === undefined && this.#strikes.size + this.#bans.size >= s.maxClients) return undefined;
      st = { count: 0, since: now };
      this.#strikes.set(client, st);
    }
    if (++st.count < s.after) return undefined;
    this.#strikes.delete(client);
    const ban = { client, until: now + s.durationMs, reason };
    this.#bans.set(client, ban);
    this.total++;
    return ban;
  }

  /** Ends a ban now (everywhere, when shared); false when there was none here. */
  lift(client: string): boolean {
    this.#strikes.delete(client);
    this.#sink?.lift(client);
    return this.#bans.delete(client);
  }

  list(now: number): Ban[] {
    return [...this.#bans.values()].filter((b) => b.until > now).sort((a, b) => a.until - b.until);
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [c, st] of this.#strikes) if (now - st.since > this.settings.windowMs) this.#strikes.delete(c);
    for (const [c, b] of this.#bans) if (b.until <= now) this.#bans.delete(c);
  }
}

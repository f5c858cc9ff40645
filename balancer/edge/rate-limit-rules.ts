/**
 * Rate-limit rules, as `--rate-limits` writes them: `<path prefix>=<n>/<s|m|h>[ burst <n>]`,
 * comma-separated, for example `/=100/s burst 200, /login=5/m`. A request is counted against
 * the rule with the longest prefix it starts with; a request no rule covers is not limited.
 */
export interface RateLimitRule {
  /** The text of the rule, as given (its name in headers, logs and the admin API). */
  readonly name: string;
  readonly prefix: string;
  /** Tokens added per second. */
  readonly perSecond: number;
  /** The bucket's size: the most requests a client may send at once. */
  readonly burst: number;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/** One rule from its text; throws saying what is wrong with it. */
export function parseRateLimitRule(text: string): RateLimitRule {
  const t = text.trim();
  const m = /^(\/[^\s=]*)=(\d+)\/([smh])(?:\s+burst\s+(\d+))?$/.exec(t);
  if (!m) throw new Error(`'${t}' is not <path prefix>=<n>/<s|m|h>[ burst <n>] (for example /api=100/s burst 200)`);
  const count = Number(m[2]);
  if (count < 1 || count > 1_000_000) throw new Error(`'${t}': the rate must be from 1 to 1000000 requests`);
  const perSecond = count / UNIT_SECONDS[m[3]!]!;
  const burst = m[4] === undefined ? Math.max(1, Math.ceil(perSecond)) : Number(m[4]);
  if (burst < 1 || burst > 1_000_000) throw new Error(`'${t}': the burst must be from 1 to 1000000 requests`);
  return Object.freeze({ name: t, prefix: m[1]!, perSecond, burst });
}

/** Rules, longest prefix first; throws on a bad rule or two rules for one prefix. */
export function parseRateLimitRules(texts: readonly string[]): readonly RateLimitRule[] {
  const rules = texts.filter((t) => t.trim() !== '').map(parseRateLimitRule);
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.prefix)) throw new Error(`two rules for the path prefix '${r.prefix}'`);
    seen.add(r.prefix);
  }
  return Object.freeze([...rules].sort((a, b) => b.prefix.length - a.prefix.length));
}

/** The rule for `path` (rules longest prefix first), or undefined. */
export function ruleFor(rules: readonly RateLimitRule[], path: string): RateLimitRule | undefined {
  for (const r of rules) if (path.startsWith(r.prefix)) return r;
  return undefined;
}

/** What a client is counted by: its address, or a header's or cookie's value (its address when that is absent). */
export type RateLimitKey = { readonly kind: 'ip' } | { readonly kind: 'header'; readonly name: string } | { readonly kind: 'cookie'; readonly name: string };

export function parseRateLimitKey(text: string): RateLimitKey {
  if (text === 'ip') return { kind: 'ip' };
  const m = /^(header|cookie):([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/.exec(text);
  if (!m) throw new Error(`'${text}' is not ip, header:<name> or cookie:<name>`);
  return m[1] === 'header' ? { kind: 'header', name: m[2]!.toLowerCase() } : { kind: 'cookie', name: m[2]! };
}

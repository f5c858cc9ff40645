import { KEEP_ALIVE_HINT_MARGIN_MS } from '../forwarder.js';

/** Longest hint believed: a backend saying more is kept no longer than the configured idle time anyway. */
const MAX_HINT_SECONDS = 86_400;

/**
 * The `timeout` parameter of a response's Keep-Alive field (RFC 9112's
 * historical hint, `Keep-Alive: timeout=5, max=100`) in ms: how long the
 * backend keeps the idle connection open. -1 when absent or unreadable.
 */
export function keepAliveHintMs(value: string): number {
  const v = value.toLowerCase();
  let i = v.indexOf('timeout');
  while (i >= 0) {
    const before = i === 0 ? ',' : v[i - 1]!;
    let j = i + 7;
    while (v[j] === ' ' || v[j] === '\t') j++;
    if ((before === ',' || before === ' ' || before === '\t') && v[j] === '=') {
      j++;
      while (v[j] === ' ' || v[j] === '\t') j++;
      if (v[j] === '"') j++;
      let n = 0;
      let digits = 0;
      for (; j < v.length && v.charCodeAt(j) >= 48 && v.charCodeAt(j) <= 57 && digits < 9; j++, digits++) n = n * 10 + v.charCodeAt(j) - 48;
      return digits === 0 ? -1 : Math.min(n, MAX_HINT_SECONDS) * 1000;
    }
    i = v.indexOf('timeout', i + 7);
  }
  return -1;
}

/**
 * How long a connection may stay idle after a response: the configured time,
 * shortened to a margin under the backend's own hint. 0: do not reuse it (the
 * backend closes it about as soon as it is idle).
 */
export function idleTimeAfter(configuredMs: number, hintMs: number): number {
  if (hintMs < 0) return configuredMs;
  return Math.max(0, Math.min(configuredMs, hintMs - KEEP_ALIVE_HINT_MARGIN_MS));
}

/** The Keep-Alive hint among a head's fields (flat name/value pairs), in ms; -1 when there is none. */
export function keepAliveHintIn(headers: readonly string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Only ten-letter names starting with k need a closer look.
    if (name.length === 10 && (name.charCodeAt(0) | 0x20) === 0x6b && name.toLowerCase() === 'keep-alive') return keepAliveHintMs(headers[i + 1]!);
  }
  return -1;
}

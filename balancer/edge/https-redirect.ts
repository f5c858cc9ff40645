/**
 * Where a plain-HTTP request goes on HTTPS (--https-redirect): the same host and target on
 * `port`; undefined when there is no redirect, no Host to send it to, or the path is an ACME
 * HTTP-01 challenge (which must be answered over plain HTTP).
 */
export function httpsLocation(port: number | undefined, host: string, path: string): string | undefined {
  if (port === undefined || host === '' || path.startsWith('/.well-known/acme-challenge/')) return undefined;
  // The host without its port: `[v6]` keeps its brackets.
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return `https://${name}${port === 443 ? '' : `:${port}`}${path === '*' ? '/' : path}`;
}

/**
 * Reads one cookie from a `Cookie` header without splitting the whole header
 * into an object: a scan for `name=` at the start of a pair. Surrounding
 * double quotes are removed; no percent-decoding (values are compared as sent).
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  const len = header.length;
  let i = 0;
  while (i < len) {
    while (i < len && (header.charCodeAt(i) === 0x20 || header.charCodeAt(i) === 0x09)) i++;
    let end = header.indexOf(';', i);
    if (end < 0) end = len;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 0x3d /* = */) {
      let start = i + name.length + 1;
      let stop = end;
      while (stop > start && (header.charCodeAt(stop - 1) === 0x20 || header.charCodeAt(stop - 1) === 0x09)) stop--;
      if (stop - start >= 2 && header.charCodeAt(start) === 0x22 && header.charCodeAt(stop - 1) === 0x22) {
        start++;
        stop--;
      }
      return header.slice(start, stop);
    }
    i = end + 1;
  }
  return undefined;
}

/** RFC 6265 cookie-name (a token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isCookieName(name: string): boolean {
  return COOKIE_NAME.test(name);
}

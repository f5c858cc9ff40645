import type { PolicyVerdict } from '../request-policy.js';

/**
 * The upstream request head of one client request as HTTP/1.1 text, built
 * once from the policy's verdict and sent on every attempt: the request
 * line, `host` (unless the client sent none: then '' and each attempt adds
 * the backend's after the line) and the forwarded fields, without framing
 * or the blank line.
 */
export function buildRequestHead(method: string, v: PolicyVerdict): string {
  const headers = v.headers;
  let text = v.host === '' ? `${method} ${v.path} HTTP/1.1\r\n` : `${method} ${v.path} HTTP/1.1\r\nhost: ${v.host}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return text;
}

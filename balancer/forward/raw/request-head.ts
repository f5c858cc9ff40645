import type { PolicyVerdict } from '../request-policy.js';

/** The upstream request head of one client request, built once from the policy's verdict and sent on every attempt. */
export interface RawRequestHead {
  /** The request line. */
  readonly line: string;
  /** `host: ...\r\n` when the client named one, else '' (each attempt adds the backend's). */
  readonly host: string;
  /** The forwarded fields, each ending in CRLF; no framing, no blank line. */
  readonly fields: string;
}

/** Writes the verdict's target and fields as HTTP/1.1 text for the backend. */
export function buildRequestHead(method: string, v: PolicyVerdict): RawRequestHead {
  const headers = v.headers;
  let fields = '';
  for (let i = 0; i < headers.length; i += 2) fields += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return { line: `${method} ${v.path} HTTP/1.1\r\n`, host: v.host === '' ? '' : `host: ${v.host}\r\n`, fields };
}

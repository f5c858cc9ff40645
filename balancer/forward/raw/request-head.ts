import type { OutgoingRequest } from '../exchange/upstream-transport.js';

/**
 * The upstream request head of one attempt as HTTP/1.1 text: the request
 * line, Host (the client's, or `backendHost` when it sent none) and the
 * forwarded fields, without framing or the blank line.
 */
export function buildRequestHead(req: OutgoingRequest, backendHost: string): string {
  const headers = req.headers;
  let text = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.host === '' ? backendHost : req.host}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return text;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ControllerStatus } from './controller.js';

/** The controller's small HTTP surface: GET /metrics (Prometheus text) and GET /healthz (JSON status). */
export function metricsHandler(metrics: Registry, status: () => ControllerStatus): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
        .end('{"error":{"code":"SWY_ADMIN_BAD_REQUEST","message":"only GET and HEAD"}}\n');
      return;
    }
    if (path === '/metrics') {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: 'ok', ...status() })}\n`);
      return;
    }
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end('{"error":{"code":"SWY_ADMIN_NOT_FOUND","message":"no such route: GET /metrics or /healthz"}}\n');
  };
}

import { createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { NO_FAULTS, shouldFail, type Faults } from './faults.js';

/** The demo backend's mutable state, shared by its routes. */
export class BackendState {
  readonly id: string;
  port: number;
  readonly hostname = hostname();
  faults: Faults;
  readonly initialFaults: Faults;
  requests = 0;
  shuttingDown = false;

  constructor(id: string, port: number, faults: Faults = NO_FAULTS) {
    this.id = id;
    this.port = port;
    this.faults = faults;
    this.initialFaults = faults;
  }
}

/**
 * The traffic a balancer sends, on the registered port. Nothing here changes
 * how the backend behaves: fault injection lives on the control listener
 * (control-app.ts, its own port).
 * - GET /health          200, or 503 when unhealthy or shutting down
 * - ANY /fault           404: not served here
 * - ANY /echo            the request as this backend saw it (method, url, headers, body size)
 * - GET /delay/:ms       answers after ms milliseconds
 * - ANY other path       JSON identity: id, hostname, port, pid, request count
 */
/** What --log-requests logs of a request as it arrives. */
export interface ArrivedRequest {
  readonly requestId: string | undefined;
  readonly method: string;
  readonly path: string;
}

export function createBackendApp(state: BackendState, random: () => number = Math.random, onArrival?: (r: ArrivedRequest) => void): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((_req, res, next) => {
    res.setHeader('x-served-by', state.id);
    // Shutting down: each answer closes its connection, so none is left idle for a balancer to reuse as it goes.
    if (state.shuttingDown) res.setHeader('connection', 'close');
    next();
  });

  if (onArrival) {
    app.use((req, _res, next) => {
      if (req.path !== '/health') {
        const id = req.headers['x-request-id'];
        onArrival({ requestId: typeof id === 'string' ? id : undefined, method: req.method, path: req.path });
      }
      next();
    });
  }

  // Hang applies to everything below, /health included: a hung process answers nothing.
  app.use((_req, _res, next) => {
    if (state.faults.hang) return;
    next();
  });

  app.get('/health', (_req, res) => {
    const down = state.faults.unhealthy || state.shuttingDown;
    res.status(down ? 503 : 200).json({ status: state.shuttingDown ? 'shutting down' : down ? 'unhealthy' : 'ok', id: state.id });
  });

  app.use((_req: Request, _res: Response, next: NextFunction) => {
    state.requests++;
    const delay = state.faults.latencyMs;
    if (delay > 0) setTimeout(next, delay);
    else next();
  });

  app.use((_req, res, next) => {
    if (!shouldFail(state.faults, random())) return next();
    res.status(state.faults.errorStatus).json({ error: 'injected failure', id: state.id });
  });

  // Named so a client that reaches this port gets no identity answer it could
  // take for a fault having been set.
  app.all('/fault', (_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'not found: fault injection is served on the control port only' }, id: state.id });
  });

  app.all('/echo', (req, res) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.json({
        id: state.id,
        method: req.method,
        url: req.originalUrl,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: size,
        bodySha1: sha1(body),
        remoteAddress: req.socket.remoteAddress,
      });
    });
  });

  app.get('/delay/:ms', (req, res) => {
    const ms = Math.min(Math.max(Number(req.params.ms) || 0, 0), 600_000);
    const timer = setTimeout(() => res.json(identity(state, req)), ms);
    res.on('close', () => clearTimeout(timer));
  });

  app.all('/{*rest}', (req, res) => {
    res.json(identity(state, req));
  });

  return app;
}

function identity(state: BackendState, req: Request): Record<string, unknown> {
  return { id: state.id, hostname: state.hostname, port: state.port, pid: process.pid, requests: state.requests, method: req.method, path: req.originalUrl };
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

/** WebSocket echo on /ws: every message is sent back as received. */
export function attachEchoSocket(server: Server, state: BackendState): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  wss.on('error', () => undefined);
  wss.on('connection', (ws: WebSocket) => {
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.send(JSON.stringify({ hello: state.id }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    if ((req.url ?? '').split('?')[0] !== '/ws' || state.faults.hang) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  return wss;
}

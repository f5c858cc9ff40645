import { createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../common/logger.js';
import { NO_FAULTS, patchFaults, shouldFail, type Faults } from './faults.js';

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
 * Routes:
 * - GET /health          200, or 503 when unhealthy or shutting down
 * - GET|POST|DELETE /fault  read, change or clear injected faults
 * - ANY /echo            the request as this backend saw it (method, url, headers, body size)
 * - GET /delay/:ms       answers after ms milliseconds
 * - ANY other path       JSON identity: id, hostname, port, pid, request count
 */
export function createBackendApp(state: BackendState, logger: Logger, random: () => number = Math.random): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((_req, res, next) => {
    res.setHeader('x-served-by', state.id);
    next();
  });

  app.get('/fault', (_req, res) => {
    res.json(state.faults);
  });
  app.post('/fault', express.json({ limit: '4kb' }), (req, res) => {
    const r = patchFaults(state.faults, req.body);
    if (!r.ok) {
      res.status(400).json({ error: { code: 'BAD_FAULT', message: r.reason } });
      return;
    }
    state.faults = r.faults;
    logger.info({ faults: r.faults }, 'faults changed');
    res.json(state.faults);
  });
  app.delete('/fault', (_req, res) => {
    state.faults = NO_FAULTS;
    logger.info({ faults: NO_FAULTS }, 'faults cleared');
    res.json(state.faults);
  });

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

  app.all('/echo', (req, res) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.json({ id: state.id, method: req.method, url: req.originalUrl, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: size, bodySha1: sha1(body), remoteAddress: req.socket.remoteAddress });
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

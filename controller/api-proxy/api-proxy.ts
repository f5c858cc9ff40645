import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { NamedPart } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { DockerEndpoint } from '../docker-endpoint.js';
import { judge, MAX_CHECKED_BODY, VERSION_PREFIX, type ApiRule, type CheckedRequest } from './rules.js';

export interface ApiProxyOptions {
  readonly port: number;
  readonly host: string;
  readonly docker: DockerEndpoint;
  readonly rules: readonly ApiRule[];
  readonly maxConnections: number;
  readonly logger: Logger;
}

/** Request fields never passed on: hop-by-hop ones and any upgrade (attach, exec). */
const DROP_REQUEST = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
  'expect',
  // Registry credentials: nothing the proxy admits pulls an image.
  'x-registry-auth',
]);
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer']);

/**
 * A filtering proxy in front of the Docker Engine API: the only part of the
 * stack that holds the Docker socket. Every request is judged by the rules
 * (method + whole path); what is not on the list gets 403 and never reaches
 * the engine. Allowed requests are passed on as they are, streams included
 * (/events), over a fresh connection each.
 */
export class DockerApiProxy implements NamedPart {
  readonly name = 'docker-api-proxy';
  readonly #opts: ApiProxyOptions;
  readonly #server: Server;
  #address: AddressInfo | undefined;
  #denied = 0;

  constructor(opts: ApiProxyOptions) {
    this.#opts = opts;
    this.#server = createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) =>
      this.#handle(req, res),
    );
    this.#server.maxConnections = opts.maxConnections;
    this.#server.on('clientError', (_err, socket: Socket) => socket.destroy());
    this.#server.on('connection', (socket: Socket) => socket.on('error', () => undefined));
  }

  get address(): AddressInfo {
    if (!this.#address) throw new Error('docker-api-proxy is not listening');
    return this.#address;
  }

  get denied(): number {
    return this.#denied;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        this.#server.on('error', (err) => this.#opts.logger.error({ err }, 'docker api proxy server error'));
        this.#address = this.#server.address() as AddressInfo;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      // Event streams never end by themselves.
      this.#server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    const method = req.method ?? '';
    const url = req.url ?? '';
    const verdict = judge(this.#opts.rules, method, url);
    if (!verdict.ok) return this.#deny(req, res, verdict.reason);
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (!verdict.rule.body) {
      if (hasBody) return this.#deny(req, res, 'a body on a request that takes none');
      return this.#forward(req, res, undefined);
    }
    this.#readBody(req, res, verdict.rule.body);
  }

  #readBody(req: IncomingMessage, res: ServerResponse, check: NonNullable<ApiRule['body']>): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_CHECKED_BODY) {
        req.removeAllListeners('data');
        this.#deny(req, res, 'body too large to check');
        req.socket.destroySoon();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const body = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        return this.#deny(req, res, 'body is not JSON');
      }
      const url = new URL(req.url ?? '/', 'http://docker');
      const checked: CheckedRequest = {
        path: url.pathname.replace(VERSION_PREFIX, ''),
        query: url.searchParams,
        readEngine: (path) => this.#readEngine(path),
      };
      check(json, checked).then(
        (refused) => {
          if (refused !== undefined) return this.#deny(req, res, refused);
          this.#forward(req, res, body);
        },
        (err: unknown) => this.#deny(req, res, `the body could not be checked: ${(err as Error).message}`),
      );
    });
  }

  /** A GET straight to the engine, for a rule to compare a write with the current state. */
  #readEngine(path: string): Promise<unknown> {
    const target =
      'socketPath' in this.#opts.docker ? { socketPath: this.#opts.docker.socketPath } : { host: this.#opts.docker.host, port: this.#opts.docker.port };
    return new Promise((resolve, reject) => {
      const r = httpRequest({ ...target, method: 'GET', path, headers: { host: 'docker' }, agent: false, timeout: 5000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 4 * MAX_CHECKED_BODY) res.destroy(new Error('engine answer too large'));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`the engine answered ${res.statusCode} to GET ${path}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      r.on('timeout', () => r.destroy(new Error('the engine did not answer in time')));
      r.on('error', reject);
      r.end();
    });
  }

  #forward(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined): void {
    const headers = passHeaders(req.headers, DROP_REQUEST);
    headers.host = 'docker';
    if (body) headers['content-length'] = String(body.length);
    const target =
      'socketPath' in this.#opts.docker ? { socketPath: this.#opts.docker.socketPath } : { host: this.#opts.docker.host, port: this.#opts.docker.port };
    const up = httpRequest({ ...target, method: req.method, path: req.url, headers, agent: false }, (upRes) => {
      upRes.on('error', () => res.destroy());
      res.writeHead(upRes.statusCode ?? 502, passHeaders(upRes.headers, DROP_RESPONSE));
      res.flushHeaders();
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      this.#opts.logger.warn({ err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, 'docker engine unreachable');
      if (!res.headersSent) answer(res, 502, 'the Docker engine did not answer');
      else res.destroy();
    });
    res.on('close', () => up.destroy());
    up.end(body);
  }

  #deny(req: IncomingMessage, res: ServerResponse, reason: string): void {
    this.#denied++;
    this.#opts.logger.warn({ method: req.method, path: (req.url ?? '').slice(0, 200), reason, remote: req.socket.remoteAddress }, 'docker api request denied');
    answer(res, 403, `switchyard docker-api-proxy: ${req.method} ${(req.url ?? '').split('?')[0]!.slice(0, 200)} is not allowed (${reason})`);
  }
}

function passHeaders(from: IncomingHttpHeaders, drop: ReadonlySet<string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined && !drop.has(k)) out[k] = v;
  return out;
}

function answer(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

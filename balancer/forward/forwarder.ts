import type { WaitHistogram } from '../stats/wait-histogram.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Outcome } from '../resilience/outcome.js';
import type { PickContext } from '../strategies/strategy.js';
import type { Upstream } from '../upstream.js';
import type { AdmissionHost } from './admission.js';
import type { BufferBudget } from './buffer-budget.js';
import type { Explainer } from './explain.js';
import type { RequestLimits } from './request-limits.js';
import type { UpstreamTransport } from './exchange/upstream-transport.js';
import type { PolicyVerdict, RequestPolicyOptions } from './request-policy.js';

/** How attempts reach backends (an engine is its upstream transport). */
export const ENGINE_NAMES = ['raw', 'undici'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** How client connections are read: llhttp on the sockets (http1/), or Node's http.Server (server-client.ts). */
export const LISTENER_NAMES = ['llhttp', 'http-server'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

/**
 * An idle backend connection is kept this long for the next request, on every
 * engine (--backend-idle-timeout), as nginx keeps its upstream keep-alive
 * connections for 60 s; a backend's Keep-Alive: timeout hint shortens it.
 */
export const BACKEND_IDLE_MS = 60_000;

/** What is kept of a backend's Keep-Alive: timeout hint: it closes its end then, so ours closes this much earlier. */
export const KEEP_ALIVE_HINT_MARGIN_MS = 1_000;

/** Connections to one backend, and how long each step on them may take. */
export interface PoolOptions {
  /** Most connections to one backend; requests beyond wait in the pool's queue. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** How long an idle connection is kept for reuse (--backend-idle-timeout); a backend's Keep-Alive hint shortens it. */
  readonly idleTimeoutMs: number;
}

export interface ForwardSettings {
  readonly maxRetries: number;
  /** Response statuses retried on another backend (idempotent requests without a body, within the budget). */
  readonly retryOnStatus?: readonly number[];
  /** An idempotent request whose response head timed out goes to another backend (within the deadline and budget). */
  readonly retryOnTimeout?: boolean;
  /**
   * Time from a request's arrival to its response head, over all its attempts;
   * no retry starts once it has passed, and each attempt waits at most the rest.
   * 0 or unset: each attempt has the upstream timeout, and retries no deadline.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Request bodies up to this many bytes, fully received, are kept so that a
   * failed attempt can be replayed on another backend (every engine); larger
   * bodies are never replayed once sent.
   * 0: never replay a sent body.
   */
  readonly retryBodyLimit?: number;
  /** Adds X-Backend: <id> to responses. */
  readonly backendHeader: boolean;
  /** Strict-Transport-Security value added to every answer over HTTPS (--hsts); none when undefined. */
  readonly hsts?: string;
  /** Plain-HTTP requests are redirected (308) to HTTPS on this port (--https-redirect); none when undefined. */
  readonly httpsRedirectPort?: number;
  readonly trustForwarded: boolean;
  /** Peers whose X-Forwarded-For names the client (CIDRs); with trustForwarded, every peer. */
  readonly trustedProxies?: readonly string[];
  /** When set, only these clients (CIDRs) are served; others get 403. */
  readonly allowClients?: readonly string[];
  /** Clients (CIDRs) answered 403. */
  readonly denyClients?: readonly string[];
  /** What a client may send and how long it may take (defaults: DEFAULT_REQUEST_LIMITS, a fresh Via pseudonym). */
  readonly limits?: Partial<RequestLimits>;
}

/** One sampled line of the optional access log. */
export interface AccessEntry {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly backend: string | undefined;
  readonly attempts: number;
  readonly durationMs: number;
  readonly clientIp: string;
  readonly error?: string;
}

/** What a forwarding engine needs from the balancer around it. */
export interface ForwardHost {
  readonly settings: ForwardSettings;
  readonly shuttingDown: boolean;
  readonly limits: RequestLimits;
  /** The request policy's options (request-policy.ts), the same for every engine. */
  readonly policy: RequestPolicyOptions;
  /** The cap on bytes held by buffered request bodies. */
  readonly bodyBudget: BufferBudget;
  /** Sampled access log, or null when off (the default). */
  readonly accessLog: Logger | null;
  readonly accessLogSample: number;
  /** X-LB-Decision: whether a request wants it, and its value for a pick. */
  readonly explainer: Explainer;
  /** Picks a routable upstream, skipping `exclude` (backends already tried). */
  pick(ctx: PickContext, exclude?: readonly Upstream[]): Upstream | undefined;
  nextRequestId(): string;
  /** A transport failure on live traffic: counts it and hints the health checker. */
  attemptFailed(upstream: Upstream, code: ErrorCode): void;
  /** Every attempt's end: what it says of the backend, and its time to the response head (or failure). */
  attemptEnded(upstream: Upstream, outcome: Outcome, latencyMs: number): void;
  /** Takes one retry from the retry budget; false when the budget is spent. */
  acquireRetry(): boolean;
  /** Set-Cookie value pinning the client to `served`, when sticky sessions are on and it is not pinned there yet. */
  stickyCookie(ctx: PickContext, served: Upstream): string | undefined;
  /** Admission and the count of requests in and out (request-gate.ts). */
  readonly gate: AdmissionHost;
  /** Time from an attempt's start until its request goes out on a backend connection (raw and undici engines). */
  readonly connectionWait: WaitHistogram;
}

/**
 * An engine's upstream transport with the lifecycle of its pools (one per
 * upstream, made on first use): what engine-forwarder.ts needs of an engine.
 */
export interface EngineTransport extends UpstreamTransport {
  /** `up` left the registry: its idle connections close now, busy ones once their requests finish. */
  forget(up: Upstream): void;
  /** Closes every connection once its request finishes; resolves when all are closed. */
  close(): Promise<void>;
  /** Closes every connection now, requests on them included. */
  destroy(): Promise<void>;
  /** The forwarder's timer, for a transport that keeps its deadlines by sweeping. */
  sweep?(now: number): void;
}

/**
 * A forwarding engine: takes client requests and sees them answered, over
 * backend connections it owns (its pools, keyed by upstream).
 */
export interface Forwarder {
  readonly name: EngineName;
  readonly listener: ListenerName;
  /** Takes what it needs of the proxy server, once, before it listens (the llhttp listener: its connections). */
  attach(server: Server): void;
  /** A request Node's http.Server parsed (all of them with the http-server listener; with llhttp, upgrades served as plain requests), with the policy's verdict. */
  handle(req: IncomingMessage, res: ServerResponse, verdict: PolicyVerdict): void;
  /** `upstream` left the registry: its idle connections close now, busy ones once their requests finish. */
  forget(upstream: Upstream): void;
  /** Shutdown: client connections the engine holds with no request in flight for at least `idleForMs` close. */
  closeIdleConnections(idleForMs: number): void;
  /** Shutdown deadline: every client connection the engine holds closes. */
  closeAllConnections(): void;
  /** Closes every backend connection once its request finishes; resolves when all are closed. */
  close(): Promise<void>;
  /** Closes every backend connection now, requests on them included. */
  destroy(): Promise<void>;
}

/**
 * The error catalogue: every error a client can receive from the proxy has a
 * stable code, an HTTP status and a fixed message. docs/errors.md lists them
 * and a unit test keeps the two in step.
 */
export const ERROR_CATALOGUE = {
  SWY_NO_BACKEND: { status: 503, message: 'no healthy backend is available' },
  SWY_RATE_LIMIT_UNAVAILABLE: { status: 503, message: 'the shared rate limits cannot be checked now; try again after Retry-After' },
  SWY_SHUTTING_DOWN: { status: 503, message: 'the balancer is shutting down' },
  SWY_QUEUE_FULL: { status: 503, message: 'too many requests are waiting; try again shortly' },
  SWY_QUEUE_TIMEOUT: { status: 503, message: 'the request waited too long for a free slot' },
  SWY_UPSTREAM_REFUSED: { status: 502, message: 'the backend refused the connection' },
  SWY_UPSTREAM_UNREACHABLE: { status: 502, message: 'the backend could not be reached' },
  SWY_UPSTREAM_RESET: { status: 502, message: 'the backend closed the connection before it responded' },
  SWY_UPSTREAM_PROTOCOL: { status: 502, message: 'the backend sent an invalid response' },
  SWY_UPSTREAM_CONNECT_TIMEOUT: { status: 504, message: 'connecting to the backend timed out' },
  SWY_UPSTREAM_TIMEOUT: { status: 504, message: 'the backend did not respond in time' },
  SWY_BAD_REQUEST: { status: 400, message: 'the request could not be parsed' },
  SWY_BAD_HOST: { status: 400, message: 'the request needs exactly one valid Host' },
  SWY_FORBIDDEN: { status: 403, message: 'this client is not allowed' },
  SWY_BANNED: { status: 403, message: 'this client is banned for a while after too many refused requests' },
  SWY_REQUEST_TIMEOUT: { status: 408, message: 'the request was not received in time' },
  SWY_BODY_TIMEOUT: { status: 408, message: 'the request body stalled' },
  SWY_BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  SWY_EXPECTATION_FAILED: { status: 417, message: 'the expectation in Expect is not supported' },
  SWY_RATE_LIMITED: { status: 429, message: 'too many requests from this client; try again after Retry-After' },
  SWY_HEADERS_TOO_LARGE: { status: 431, message: 'the request headers are too large' },
  SWY_TOO_MANY_HEADERS: { status: 431, message: 'the request has too many header fields' },
  SWY_NOT_IMPLEMENTED: { status: 501, message: 'the method or transfer coding is not supported' },
  SWY_HTTP_VERSION: { status: 505, message: 'the HTTP version is not supported' },
  SWY_LOOP_DETECTED: { status: 508, message: 'the request has already passed through this balancer' },
  SWY_INTERNAL: { status: 500, message: 'internal error in the balancer' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** An error that carries a catalogue code; `cause` keeps the transport error. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, options?: { cause?: unknown }) {
    super(ERROR_CATALOGUE[code].message, options);
    this.name = 'SwitchyardError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
  }
}

/** Maps a transport error from the upstream client onto the catalogue. */
export function classifyUpstreamError(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'SWY_UPSTREAM_REFUSED';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return 'SWY_UPSTREAM_UNREACHABLE';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'SWY_UPSTREAM_CONNECT_TIMEOUT';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ESOCKETTIMEDOUT':
      return 'SWY_UPSTREAM_TIMEOUT';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return 'SWY_UPSTREAM_RESET';
    default:
      if (typeof code === 'string' && code.startsWith('HPE_')) return 'SWY_UPSTREAM_PROTOCOL';
      if (code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'SWY_UPSTREAM_PROTOCOL';
      return 'SWY_UPSTREAM_RESET';
  }
}

/** True when the failure happened while connecting: the request never left, so any method may be retried. */
export function isConnectFailure(code: ErrorCode): boolean {
  return code === 'SWY_UPSTREAM_REFUSED' || code === 'SWY_UPSTREAM_UNREACHABLE' || code === 'SWY_UPSTREAM_CONNECT_TIMEOUT';
}

import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../common/logger.js';
import type { BackendState } from './app.js';
import { NO_FAULTS, patchFaults } from './faults.js';

/**
 * The control listener: every route that changes how the backend behaves,
 * on a port of its own that a balancer never registers or routes to.
 * Hangs and injected errors never apply here, so a hung backend can still
 * be brought back.
 * - GET /fault      the current faults
 * - POST /fault     change some of them (JSON: latencyMs, errorRate, errorStatus, unhealthy, hang)
 * - DELETE /fault   clear them all
 * - ANY other path  404
 */
export function createControlApp(state: BackendState, logger: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

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

  app.all('/{*rest}', (_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'the control listener serves /fault only' } });
  });
  // A body that is not JSON, or too large: the status express.json chose, as JSON.
  app.use((err: { status?: number; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: { code: 'BAD_FAULT', message: err.message ?? 'bad request' } });
  });
  return app;
}

// Docker HEALTHCHECK for Switchyard containers, run with the image's own node
// (no shell or curl needed): GET a local URL, healthy on 2xx/3xx within 2 s.
// URL: SWITCHYARD_HEALTHCHECK_URL, else the backend's /health on
// SWITCHYARD_BACKEND_PORT or PORT (default 8081).
import { get } from 'node:http';

const port = process.env.SWITCHYARD_BACKEND_PORT || process.env.PORT || '8081';
const url = process.env.SWITCHYARD_HEALTHCHECK_URL || `http://127.0.0.1:${port}/health`;
const req = get(url, { timeout: 2000, headers: { 'user-agent': 'switchyard-docker-healthcheck' } }, (res) => {
  res.resume();
  process.exit(res.statusCode >= 200 && res.statusCode < 400 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  process.stderr.write(`healthcheck ${url}: ${err.message}\n`);
  process.exit(1);
});

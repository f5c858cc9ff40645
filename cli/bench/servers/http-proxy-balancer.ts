// The bench's http-proxy balancers: round robin over the backends with node-http-proxy 1.18.
// --agent: a keep-alive agent (http-proxy used well); without it, the seeds' style: a new
// upstream connection per request.
// Usage: node http-proxy-balancer.js --port P --backends http://127.0.0.1:a,http://127.0.0.1:b [--agent]
import { Agent, createServer } from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string' }, backends: { type: 'string' }, agent: { type: 'boolean', default: false } } });
  const targets = String(values.backends).split(',');
  const agent = values.agent ? new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 512 }) : undefined;
  const proxy = httpProxy.createProxyServer(agent ? { agent } : {});
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) {
      res.writeHead(502, { 'content-length': '0' });
      res.end();
    } else {
      res.destroy();
    }
  });
  let next = 0;
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res, { target: targets[next++ % targets.length] }));
  server.on('clientError', (_err, socket) => socket.destroy());
  server.listen(Number(values.port), '127.0.0.1', () => console.log(`listening ${Number(values.port)}`));
  process.on('SIGTERM', () => process.exit(0));
}

main();

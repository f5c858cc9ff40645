// Load from a container on the stack's network (tests/swarm): WORKERS loops, one
// request at a time each, through undici, which honours `Connection: close` and
// the server's keep-alive hint as a browser does. The balancers are found by
// their service name, so every new connection asks Docker's DNS again.
//   node overlay-load-client.mjs <url> <workers> <max seconds>
// Prints `done N` on stderr every 200 ms and, when it ends (SIGINT or the time
// limit), one JSON line on stdout: { ok, failed, failures: [{ atMs, error }] }.
import { createRequire } from 'node:module';

const { Agent, request } = createRequire('/app/package.json')('undici');
const [url, workers = '16', maxSeconds = '200'] = process.argv.slice(2);
const agent = new Agent({ connections: Number(workers), keepAliveTimeout: 4000 });
const t0 = Date.now();
const deadline = t0 + Number(maxSeconds) * 1000;
let stop = false;
let ok = 0;
let failed = 0;
const failures = [];
process.on('SIGINT', () => (stop = true));

async function work() {
  for (let n = 0; n < 1_000_000 && !stop && Date.now() < deadline; n++) {
    try {
      const res = await request(url, { dispatcher: agent });
      await res.body.text();
      if (res.statusCode === 200) ok++;
      else {
        failed++;
        if (failures.length < 50) failures.push({ atMs: Date.now() - t0, error: `status ${res.statusCode}` });
      }
    } catch (err) {
      failed++;
      if (failures.length < 50) failures.push({ atMs: Date.now() - t0, error: `${err.code ?? ''} ${err.message}` });
    }
  }
}

const progress = setInterval(() => process.stderr.write(`done ${ok + failed}\n`), 200);
await Promise.all(Array.from({ length: Number(workers) }, work));
clearInterval(progress);
await agent.close();
process.stdout.write(`${JSON.stringify({ ok, failed, failures })}\n`);

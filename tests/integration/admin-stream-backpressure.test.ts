import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { get } from '../helpers/http.js';
import { sumMetric } from '../helpers/metrics-text.js';
import { freePort } from '../helpers/ports.js';
import { SwitchyardProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const BACKENDS = 300;
const STALLED = 16;
const BACKLOG = 256 * 1024;

/** Resident memory of a process, in bytes, from /proc/<pid>/status. */
function rss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(kb, 'VmRSS in /proc/<pid>/status');
  return Number(kb[1]) * 1024;
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * A balancer with many backends (each stats snapshot is large) and a short
 * stream interval, so an /events client that never reads fills every buffer
 * between it and the balancer within seconds.
 */
describe('the event stream drops a client that never reads, and memory comes back', () => {
  let lb: SwitchyardProcess;
  let adminUrl: string;
  let adminPort: number;
  let reader: IncomingMessage | undefined;
  const stalled: Socket[] = [];

  before(async () => {
    adminPort = await freePort();
    adminUrl = `http://127.0.0.1:${adminPort}`;
    const backends = Array.from({ length: BACKENDS }, (_, i) => `b${String(i).padStart(3, '0')}=http://127.0.0.1:${40_000 + i}`).join(',');
    lb = new SwitchyardProcess(
      [
        'balancer',
        '--host',
        '127.0.0.1',
        '--port',
        String(await freePort()),
        '--admin-port',
        String(adminPort),
        '--no-health-checks',
        '--admin-stream-interval',
        '50ms',
        '--admin-stream-backlog',
        String(BACKLOG),
        '--log-level',
        'warn',
      ],
      { SWITCHYARD_BACKENDS: backends },
    );
    await lb.waitReady(adminUrl, BACKENDS, 30_000);
  });

  after(async () => {
    reader?.destroy();
    for (const s of stalled) s.destroy();
    await lb?.kill();
  });

  it(`cuts ${STALLED} stalled clients once ${BACKLOG / 1024} KiB wait for each, keeps a reading one, and RSS returns near its baseline`, async (t: TestContext) => {
    const frameBytes = (await get(`${adminUrl}/stats`)).body.length;
    // A reading client, as a dashboard is: it must keep its stream throughout.
    let frames = 0;
    reader = await new Promise<IncomingMessage>((resolve, reject) => request(`${adminUrl}/events`, resolve).on('error', reject).end());
    assert.equal(reader.statusCode, 200);
    reader.setEncoding('utf8');
    reader.on('data', (d: string) => (frames += d.split('event: stats\n').length - 1));
    // Warm up under the same churn as the rest of the test (a large snapshot every 50 ms, the
    // large /metrics polled every 100 ms) until RSS has settled: the heap grows to the size this
    // churn needs over the first hundred or so snapshots (the smaller the scrape, the slower), and
    // a baseline taken before then counts that growth against the dropped clients. Settled: no new
    // high (by over 1 MiB) for the last 60 snapshots,
    // counted in snapshots, not seconds, so a loaded machine only makes it slower. The baseline is
    // the top of the range RSS moves in then, as garbage comes and goes.
    const metric = async (name: string): Promise<number> => sumMetric((await get(`${adminUrl}/metrics`)).body, name);
    await waitFor('20 snapshots read', () => frames >= 20, 20_000);
    let baseline = 0;
    let highAt = frames;
    let settledAt = 0;
    await waitFor(
      'RSS to settle: no new high over 60 snapshots',
      async () => {
        const now = rss(lb.pid);
        if (now > baseline + 1048576) highAt = frames;
        baseline = Math.max(baseline, now);
        await metric('switchyard_admin_streams');
        settledAt = frames;
        return frames - highAt >= 60;
      },
      60_000,
      100,
    );

    for (let i = 0; i < STALLED; i++) {
      const s = connect(adminPort, '127.0.0.1');
      s.pause(); // never read: the kernel buffers fill, then the balancer's
      s.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${adminPort}\r\n\r\n`);
      stalled.push(s);
    }
    const closed = stalled.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));

    let peak = baseline;
    let peakBuffered = 0;
    await waitFor(
      `${STALLED} stalled streams dropped`,
      async () => {
        peak = Math.max(peak, rss(lb.pid));
        peakBuffered = Math.max(peakBuffered, await metric('switchyard_admin_streams_buffered_bytes'));
        return (await metric('switchyard_admin_streams_dropped_total')) >= STALLED;
      },
      40_000,
      100,
    );
    assert.equal(await metric('switchyard_admin_streams_dropped_total'), STALLED, 'only the stalled clients were dropped');
    assert.equal(await metric('switchyard_admin_streams'), 1, 'the reading client still streams');
    const before = frames;
    await waitFor('the reader to get 10 more snapshots', () => frames >= before + 10, 10_000);

    // The balancer closed them: once they read again, they reach the end of the stream.
    for (const s of stalled) s.resume();
    await Promise.race([
      Promise.all(closed),
      new Promise((_, reject) => setTimeout(() => reject(new Error('a dropped client was not closed')), 10_000).unref()),
    ]);

    const warn = await lb.waitForLog('event stream client dropped: it does not read', 5000, (l) => l.level === 'warn');
    assert.equal(warn.remoteAddress, '127.0.0.1');
    assert.ok(Number(warn.backlogBytes) > BACKLOG);

    // What the balancer held for the streams is released: only the reader's unread share is left
    // (at most a frame or two in flight). This is the memory the backlog limit bounds, measured
    // exactly; RSS below is the same story seen from outside, noisier (the allocator returns
    // freed pages when it trims), so its bound is looser.
    let buffered = Infinity;
    await waitFor(
      'the streams to hold at most two frames',
      async () => {
        buffered = await metric('switchyard_admin_streams_buffered_bytes');
        return buffered <= 2 * frameBytes + 4096;
      },
      10_000,
      100,
    );
    let afterwards = Infinity;
    for (let i = 0; i < 20; i++) {
      afterwards = Math.min(afterwards, rss(lb.pid));
      await metric('switchyard_admin_streams');
    }
    t.diagnostic(
      `snapshot ${mib(frameBytes)}; streams held at most ${mib(peakBuffered)}, ${mib(buffered)} after the drops; RSS baseline ${mib(baseline)} (settled after ${settledAt} snapshots), peak ${mib(peak)}, after the drops ${mib(afterwards)}`,
    );
    // Each stalled client holds at most the backlog plus one frame before it is cut.
    assert.ok(
      peakBuffered <= STALLED * (BACKLOG + 2 * frameBytes) + 2 * frameBytes + 65536,
      `the streams held ${mib(peakBuffered)} while ${STALLED} clients stalled`,
    );
    assert.ok(peak - baseline < 64 * 1048576, `RSS grew by ${mib(peak - baseline)} while ${STALLED} clients stalled`);
    assert.ok(afterwards - baseline < 64 * 1048576, `RSS still ${mib(afterwards - baseline)} above its baseline after the drops`);
  });
});

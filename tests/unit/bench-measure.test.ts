import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { h2loadSession, parseH2loadOutput, parseWrkOutput, sampleFromLoadReport } from '../../cli/bench/load-generator.js';
import { cpuDelta, parseProcStat, parseVmRss } from '../../cli/bench/proc-stats.js';
import { parseProcNetTcp } from '../../common/proc-net-tcp.js';
import type { LoadReport } from '../../cli/load/report.js';

describe('bench measurements', () => {
  it('reads utime and stime from /proc/<pid>/stat even when the command has spaces and parentheses', () => {
    const stat = '4242 (node (worker) x) S 4200 4242 4200 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 11 0 100 1000000 2000 18446744073709551615';
    assert.deepEqual(parseProcStat(stat), { pid: 4242, ppid: 4200, utime: 1234, stime: 567 });
  });

  it('reads VmRSS in bytes', () => {
    assert.equal(parseVmRss('Name:\tnode\nVmRSS:\t  102400 kB\nThreads:\t11\n'), 100 * 1024 * 1024);
    assert.equal(parseVmRss('Name:\tkthreadd\n'), 0);
  });

  it('sums CPU ticks spent by a process tree between two samples, new workers counted from their start', () => {
    const before = new Map([
      [1, 100],
      [2, 50],
    ]);
    const after = new Map([
      [1, 160],
      [2, 70],
      [3, 5],
    ]);
    assert.equal(cpuDelta(before, after), 60 + 20 + 5);
  });

  it('parses /proc/net/tcp ports, state and inode', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11111 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:A1B2 0100007F:4E21 01 00000000:00000000 00:00000000 00000000     0        0 22222 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    assert.deepEqual(parseProcNetTcp(text), [
      { localAddress: '127.0.0.1', localPort: 8080, remotePort: 0, state: 10, inode: 11111 },
      { localAddress: '127.0.0.1', localPort: 41394, remotePort: 20001, state: 1, inode: 22222 },
    ]);
  });

  it('parses the JSON line of the wrk hook into req/s, percentiles in ms and errors', () => {
    const out = [
      'Running 5s test @ http://127.0.0.1:1/',
      '  1 threads and 64 connections',
      'WRK_JSON {"requests":100000,"durationUs":5000000,"bytes":1,"errors":{"connect":0,"read":2,"write":0,"status":3,"timeout":1},"latencyUs":{"p50":800,"p90":1500,"p99":4200,"p999":9100,"max":12000,"mean":900.5}}',
    ].join('\n');
    const s = parseWrkOutput(out);
    assert.equal(s.rps, 20_000);
    assert.equal(s.p50Ms, 0.8);
    assert.equal(s.p99Ms, 4.2);
    assert.equal(s.p999Ms, 9.1);
    assert.equal(s.errors, 6);
    assert.throws(() => parseWrkOutput('wrk: connection refused'), /no result line/);
  });

  it('takes the same figures from a switchyard load report, counting 4xx/5xx as errors', () => {
    const r = {
      requests: { sent: 1010, completed: 1000, perSecond: 500 },
      durationMs: 2000,
      latencyMs: { min: 0.1, mean: 1, stddev: 1, p50: 1, p90: 2, p99: 3, p999: 4, max: 5 },
      statusCodes: { '200': 990, '502': 10 },
      errors: { total: 2, timeouts: 1, connection: 1, non2xx: 10 },
    } as unknown as LoadReport;
    const s = sampleFromLoadReport(r);
    assert.equal(s.rps, 500);
    assert.equal(s.errors, 12);
    assert.equal(s.p999Ms, 4);
  });

  it('reads h2load: req/s of the succeeded requests, percentiles from its per-request log, failed and timed out as errors', () => {
    const out = [
      'TLS Protocol: TLSv1.3',
      'Cipher: TLS_AES_256_GCM_SHA384',
      'Server Temp Key: X25519 253 bits',
      'Application protocol: h2',
      'finished in 2.00s, 499.00 req/s, 30KB/s',
      'requests: 1000 total, 1002 started, 1000 done, 998 succeeded, 2 failed, 1 errored, 0 timeout',
      'status codes: 998 2xx, 0 3xx, 1 4xx, 0 5xx',
    ].join('\n');
    // 1,000 requests taking 1..1000 µs, in no order
    const log = Array.from({ length: 1000 }, (_, i) => `1796650154282091\t200\t${((i * 7919) % 1000) + 1}`).join('\n');
    const s = parseH2loadOutput(out, `${log}\n`);
    assert.equal(s.requests, 998);
    assert.equal(s.rps, 499);
    assert.equal(s.p50Ms, 0.5);
    assert.equal(s.p99Ms, 0.99);
    assert.equal(s.p999Ms, 0.999);
    assert.equal(s.maxMs, 1);
    assert.equal(s.errors, 2, 'errored is a subset of failed');
    assert.equal(h2loadSession(out), 'TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN h2');
    assert.equal(h2loadSession('finished in 1s'), undefined);
    assert.throws(() => parseH2loadOutput('connect: Connection refused', ''), /no summary/);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { get, json, loadLoop } from '../helpers/http.js';
import { sumMetric as sum } from '../helpers/metrics-text.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';

describe('Prometheus metrics and /stats', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  before(async () => {
    backends = await Promise.all(['m1', 'm2', 'm3'].map((id) => TestBackend.start(id)));
    lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), processMetrics: true });
    await lb.routable(3);
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('counts every request per backend: the counters sum to what the client sent', async () => {
    const sent = 3000;
    const r = await loadLoop(`${lb.url}/`, sent, 32);
    assert.equal(r.ok, sent);
    const text = (await get(`${lb.adminUrl}/metrics`)).body;
    assert.equal(sum(text, 'switchyard_backend_responses_total'), sent);
    assert.equal(sum(text, 'switchyard_requests_total'), sent);
    for (const id of ['m1', 'm2', 'm3']) {
      assert.equal(
        sum(text, 'switchyard_backend_responses_total', (l) => l.includes(`backend="${id}"`) && l.includes('code_class="2xx"')),
        sent / 3,
      );
      assert.equal(
        sum(text, 'switchyard_backend_response_seconds_count', (l) => l.includes(`backend="${id}"`)),
        sent / 3,
      );
    }
    assert.equal(sum(text, 'switchyard_backend_routable'), 3);
  });

  it('passes promtool check metrics', () => {
    const promtool = spawnSync('promtool', ['--version']);
    assert.equal(promtool.error, undefined, 'promtool is installed (Debian package prometheus)');
    return get(`${lb.adminUrl}/metrics`).then(({ body }) => {
      const check = spawnSync('promtool', ['check', 'metrics'], { input: body });
      assert.equal(check.status, 0, `promtool: ${String(check.stdout)}${String(check.stderr)}`);
    });
  });

  it('documents every metric in docs/observability.md', async () => {
    const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    const names = new Set([...(await get(`${lb.adminUrl}/metrics`)).body.matchAll(/^# TYPE (switchyard_[a-z_]+) /gm)].map((m) => m[1]!));
    for (const name of names) {
      if (name.startsWith('switchyard_process_')) continue;
      assert.match(doc, new RegExp(`\`${name}\``), `${name} is documented`);
    }
    assert.match(doc, /`switchyard_process_\*`/);
  });

  it('serves one /stats snapshot with per-backend rates, latency, share and events', async () => {
    await loadLoop(`${lb.url}/`, 300, 4);
    const s = json<{
      backends: { id: string; share: number; requestsPerSecond: number; p99Ms: number; health: string; history: number[] }[];
      events: { type: string }[];
      strategy: string;
    }>(await get(`${lb.adminUrl}/stats`));
    assert.equal(s.strategy, 'round-robin');
    assert.deepEqual(
      s.backends.map((b) => b.id),
      ['m1', 'm2', 'm3'],
    );
    for (const b of s.backends) {
      assert.equal(b.health, 'healthy');
      assert.equal(b.history.length, 119);
    }
    assert.ok(s.events.some((e) => e.type === 'registered') && s.events.some((e) => e.type === 'healthy'));
  });

  it('streams stats every second and events as they happen over SSE', async () => {
    const { request } = await import('undici');
    const res = await request(`${lb.adminUrl}/events`);
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    let buffer = '';
    const seen: string[] = [];
    const t0 = Date.now();
    let drained = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      buffer += chunk.toString();
      let idx: number;
      while ((idx = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const ev = /^event: (\w+)$/m.exec(frame)?.[1];
        if (ev) seen.push(ev);
        if (ev === 'log' && frame.includes('"state-changed"')) drained = true;
      }
      if (!drained && seen.filter((e) => e === 'stats').length >= 1 && Date.now() - t0 > 100) {
        await lb.registry.setState('m2', 'draining');
      }
      if (drained && seen.filter((e) => e === 'stats').length >= 3) break;
      if (Date.now() - t0 > 5000) break;
    }
    res.body.destroy();
    assert.ok(drained, 'the drain arrived as a log event');
    assert.ok(seen.filter((e) => e === 'stats').length >= 3, `stats events: ${seen.join(',')}`);
    assert.ok(Date.now() - t0 < 4000, 'at least once a second');
    await lb.registry.setState('m2', 'active');
  });
});

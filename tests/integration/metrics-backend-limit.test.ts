import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { get, loadLoop } from '../helpers/http.js';
import { sumMetric as sum } from '../helpers/metrics-text.js';
import { TestBackend, TestBalancer } from '../helpers/stack.js';

/*
 * --metrics-backend-limit: past the limit, backends share one `_other`
 * series per metric, so /metrics stays small with 10,000 backends, and the
 * totals stay exact (docs/observability.md).
 */
describe('/metrics with more backends than --metrics-backend-limit', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  before(async () => {
    backends = await Promise.all(['l1', 'l2', 'l3', 'l4'].map((id) => TestBackend.start(id)));
    lb = await TestBalancer.start({ backends: backends.map((b) => b.spec()), settings: { metricsBackendLimit: 2 } });
    await lb.routable(4);
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('gives the first backends (id order) their own series and sums the others as backend="_other", totals unchanged', async () => {
    const sent = 400;
    const r = await loadLoop(`${lb.url}/`, sent, 8);
    assert.equal(r.ok, sent);
    const text = (await get(`${lb.adminUrl}/metrics`)).body;
    const backendsSeen = new Set([...text.matchAll(/backend="([^"]+)"/g)].map((m) => m[1]));
    assert.deepEqual([...backendsSeen].sort(), ['_other', 'l1', 'l2']);
    assert.equal(sum(text, 'switchyard_backend_responses_total'), sent);
    assert.equal(
      sum(text, 'switchyard_backend_responses_total', (l) => l.includes('backend="_other"') && l.includes('code_class="2xx"')),
      sent / 2,
    );
    assert.equal(
      sum(text, 'switchyard_backend_response_seconds_count', (l) => l.includes('backend="_other"')),
      sent / 2,
    );
    assert.equal(
      sum(text, 'switchyard_backend_response_seconds_bucket', (l) => l.includes('backend="_other"') && l.includes('le="+Inf"')),
      sent / 2,
    );
    // State gauges count the backends in each state: two of the others are healthy and routable.
    assert.equal(
      sum(text, 'switchyard_backend_health', (l) => l.includes('backend="_other"') && l.includes('state="healthy"')),
      2,
    );
    assert.equal(
      sum(text, 'switchyard_backend_routable', (l) => l.includes('backend="_other"')),
      2,
    );
    assert.equal(sum(text, 'switchyard_backend_routable'), 4);
    assert.equal(
      sum(text, 'switchyard_backends', (l) => l.includes('kind="registered"')),
      4,
    );
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text });
    assert.equal(check.status, 0, `promtool: ${String(check.stdout)}${String(check.stderr)}`);
  });
});

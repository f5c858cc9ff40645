import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendRows, OTHER_BACKENDS } from '../../balancer/admin/backend-rows.js';
import type { UpstreamView } from '../../balancer/balancer-view.js';

const up = (id: string, requests: number): UpstreamView => ({ id, requests }) as unknown as UpstreamView;
const reqs = (u: UpstreamView): number => u.requests;

function scrape(rows: BackendRows, all: readonly UpstreamView[]): Record<string, number> {
  return Object.fromEntries(rows.rows(all).map((r) => [r.backend, rows.counter(r, 'attempts', reqs)]));
}

describe('/metrics rows past --metrics-backend-limit', () => {
  it('gives the first backends their own rows and sums the rest under _other', () => {
    const rows = new BackendRows(2);
    assert.deepEqual(scrape(rows, [up('a', 1), up('b', 2), up('c', 3), up('d', 4)]), { a: 1, b: 2, [OTHER_BACKENDS]: 7 });
  });

  it('keeps the rows while the backend list is the same array, and makes them again when it changes', () => {
    const rows = new BackendRows(1);
    const all = [up('a', 1), up('b', 2)];
    assert.equal(rows.rows(all), rows.rows(all));
    assert.notEqual(rows.rows(all), rows.rows([...all]));
  });

  it('never lets an _other counter go down when backends leave it (deregistered or given their own row)', () => {
    const rows = new BackendRows(2);
    const [a, b, c, d, e] = [up('a', 10), up('b', 20), up('c', 30), up('d', 40), up('e', 50)];
    let seen = scrape(rows, [a, b, c, d, e]);
    assert.equal(seen[OTHER_BACKENDS], 120);
    // d is deregistered: what it counted stays in _other.
    seen = scrape(rows, [a, b, c, e]);
    assert.equal(seen[OTHER_BACKENDS], 120);
    // a goes, so c gets its own row: c's counts stay in _other too, and c starts its own series.
    (c as { requests: number }).requests = 31;
    seen = scrape(rows, [b, c, e]);
    assert.deepEqual(seen, { b: 20, c: 31, [OTHER_BACKENDS]: 40 + 31 + 50 });
    // More traffic to e: _other grows by exactly that.
    (e as { requests: number }).requests = 55;
    assert.equal(scrape(rows, [b, c, e])[OTHER_BACKENDS], 126);
  });

  it('gives every backend its own row with limit 0, and no _other', () => {
    const rows = new BackendRows(0);
    assert.deepEqual(scrape(rows, [up('a', 1), up('b', 2), up('c', 3)]), { a: 1, b: 2, c: 3 });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendSpec } from '../../common/backend.js';
import { silentLogger } from '../../common/logger.js';
import type { RegistrySnapshot } from '../../common/registry/registry.js';
import { UpstreamSet } from '../../balancer/upstream-set.js';
import type { Upstream } from '../../balancer/upstream.js';

function specs(prefix: string, n: number): BackendSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${String(i).padStart(5, '0')}`,
    url: `http://127.0.0.1:${10_000 + (i % 50)}`,
    weight: 1,
    state: 'active' as const,
    labels: {},
  }));
}

const snap = (version: number, backends: BackendSpec[]): RegistrySnapshot => ({ version, backends });
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function until(what: string, check: () => boolean, turns = 200): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await turn();
  }
  assert.fail(`${what}: not after ${turns} turns of the event loop`);
}

/**
 * The registry's path in (update()): a snapshot that brings thousands of new
 * backends is prepared and announced over several turns of the event loop, so
 * no single turn is long; what matters here is that the result is exactly
 * what apply() would give, whatever arrives in between.
 */
function makeSet(): { set: UpstreamSet; added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  const set = new UpstreamSet({
    logger: silentLogger(),
    onAdded: (u: Upstream) => added.push(u.id),
    onRemoved: (u: Upstream) => removed.push(u.id),
  });
  return { set, added, removed };
}

describe('UpstreamSet.update with large snapshots', () => {
  it('applies 2,500 new backends over later turns, announcing each exactly once', async () => {
    const { set, added } = makeSet();
    const all = specs('a', 2500);
    set.update(snap(1, all));
    assert.equal(set.all.length, 0, 'a large snapshot is not applied in the turn it arrives');
    await until('all applied', () => set.all.length === 2500);
    assert.equal(set.version, 1);
    await until('all announced', () => added.length === 2500);
    assert.deepEqual(new Set(added).size, 2500);
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(added.length, 2500, 'no backend announced twice');
    await set.close();
  });

  it('a snapshot arriving during preparation replaces the one being prepared', async () => {
    const { set, added } = makeSet();
    set.update(snap(1, specs('a', 3000)));
    await turn();
    set.update(snap(2, specs('b', 2500)));
    await until('the newer snapshot applied', () => set.version === 2 && set.all.length === 2500);
    await until('announced', () => added.length === 2500);
    assert.ok(
      added.every((id) => id.startsWith('b')),
      'no backend of the replaced snapshot was announced',
    );
    assert.ok(set.all.every((u) => u.id.startsWith('b')));
    await set.close();
  });

  it('a backend removed before its turn to be announced is never announced', async () => {
    const { set, added, removed } = makeSet();
    const first = specs('a', 2500);
    const kept = first.slice(0, 1000);
    // Right after the large apply (a microtask, before the next turn), a snapshot removes 1,500 of them.
    let cut = false;
    set.onMembersChanged = () => {
      if (cut || set.all.length !== 2500) return;
      cut = true;
      queueMicrotask(() => set.update(snap(2, kept)));
    };
    set.update(snap(1, first));
    await until('the cut applied', () => set.version === 2);
    for (let i = 0; i < 10; i++) await turn();
    assert.equal(removed.length, 1500);
    const announced = new Set(added);
    for (const s of kept) assert.ok(announced.has(s.id), `${s.id} kept but never announced`);
    for (const id of removed) assert.ok(!announced.has(id), `${id} removed but announced afterwards`);
    await set.close();
  });

  it('a small snapshot through update() applies and announces at once', async () => {
    const { set, added } = makeSet();
    set.update(snap(1, specs('s', 50)));
    assert.equal(set.all.length, 50);
    assert.equal(added.length, 50);
    await set.close();
  });
});

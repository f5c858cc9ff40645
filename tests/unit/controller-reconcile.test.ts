import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { BackendSpec } from '../../common/backend.js';
import { applyPlan, reconcile, type Operation } from '../../controller/reconcile.js';

const MINE = { source: 'docker', network: 'n' };
const owns = (b: BackendSpec): boolean => b.labels.source === 'docker' && b.labels.network === 'n';

function spec(id: string, patch: Partial<BackendSpec> = {}): BackendSpec {
  return { id, url: `http://10.0.0.${id.charCodeAt(0) % 250}:8081`, weight: 1, state: 'active', labels: MINE, ...patch };
}

function show(op: Operation): string {
  switch (op.kind) {
    case 'upsert':
      return `${op.isNew ? 'add' : 'update'} ${op.spec.id}`;
    case 'set-state':
      return `${op.state} ${op.id}`;
    case 'remove':
      return `remove ${op.id}`;
  }
}

interface Case {
  readonly desc: string;
  readonly desired: readonly BackendSpec[];
  readonly actual: readonly BackendSpec[];
  readonly ops: readonly string[];
  readonly conflicts?: readonly string[];
}

const FOREIGN = { source: 'static' };

const CASES: readonly Case[] = [
  { desc: 'nothing wanted, nothing there', desired: [], actual: [], ops: [] },
  { desc: 'in step: no writes', desired: [spec('a'), spec('b')], actual: [spec('b'), spec('a')], ops: [] },
  { desc: 'a new container', desired: [spec('a'), spec('b')], actual: [spec('a')], ops: ['add b'] },
  { desc: 'a container gone', desired: [spec('a')], actual: [spec('a'), spec('b')], ops: ['remove b'] },
  { desc: 'all gone', desired: [], actual: [spec('a'), spec('b')], ops: ['remove a', 'remove b'] },
  { desc: 'stop signal: only the state changes', desired: [spec('a', { state: 'draining' })], actual: [spec('a')], ops: ['draining a'] },
  { desc: 'restarted while draining: back to active', desired: [spec('a')], actual: [spec('a', { state: 'draining' })], ops: ['active a'] },
  { desc: 'new address after a restart: upsert', desired: [spec('a', { url: 'http://10.0.0.99:8081' })], actual: [spec('a')], ops: ['update a'] },
  { desc: 'new weight label: upsert', desired: [spec('a', { weight: 3 })], actual: [spec('a')], ops: ['update a'] },
  {
    desc: 'address and state change together: one upsert',
    desired: [spec('a', { url: 'http://10.0.0.99:8081', state: 'draining' })],
    actual: [spec('a')],
    ops: ['update a'],
  },
  { desc: 'labels differ (moved project): upsert', desired: [spec('a', { labels: { ...MINE, project: 'p' } })], actual: [spec('a')], ops: ['update a'] },
  { desc: 'an entry written by someone else is never removed', desired: [], actual: [spec('s', { labels: FOREIGN }), spec('h', { labels: {} })], ops: [] },
  {
    desc: 'an id taken by someone else is left alone and reported',
    desired: [spec('a')],
    actual: [spec('a', { labels: FOREIGN, url: 'http://192.168.1.1:80' })],
    ops: [],
    conflicts: ['a'],
  },
  { desc: "another network's controller entries are not ours", desired: [], actual: [spec('x', { labels: { source: 'docker', network: 'other' } })], ops: [] },
  {
    desc: 'order: upserts, then state changes, then removals, each by id',
    desired: [spec('d'), spec('b', { state: 'draining' }), spec('a', { weight: 2 })],
    actual: [spec('a'), spec('b'), spec('c'), spec('e')],
    ops: ['update a', 'add d', 'draining b', 'remove c', 'remove e'],
  },
  { desc: 'a duplicate desired id is taken once', desired: [spec('a'), spec('a', { weight: 9 })], actual: [], ops: ['add a'] },
];

describe('reconcile(desired, actual): the writes that make the registry true', () => {
  for (const c of CASES) {
    it(c.desc, () => {
      const plan = reconcile(c.desired, c.actual, owns);
      assert.deepEqual(plan.operations.map(show), c.ops);
      assert.deepEqual(
        plan.conflicts.map((x) => x.id),
        c.conflicts ?? [],
      );
    });
  }

  it('leaves an id whose entry the registry cannot read alone, reports it, and still applies the rest', () => {
    const unreadable = [
      { id: 'a', reason: 'wrong type: string, not a hash' },
      { id: 'z', reason: 'url is missing' },
    ];
    const plan = reconcile([spec('a'), spec('b')], [spec('c')], owns, unreadable);
    assert.deepEqual(plan.operations.map(show), ['add b', 'remove c']);
    assert.deepEqual(
      plan.conflicts.map((x) => x.id),
      ['a'],
    );
    assert.match(plan.conflicts[0]!.reason, /cannot be read \(wrong type: string, not a hash\)/);
  });

  it('carries the full desired spec in upserts', () => {
    const d = spec('a', { weight: 7 });
    const [op] = reconcile([d], [], owns).operations;
    assert.deepEqual(op, { kind: 'upsert', spec: d, isNew: true });
  });

  const arbSpec = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    url: fc.constantFrom('http://10.0.0.1:80', 'http://10.0.0.2:80'),
    weight: fc.integer({ min: 0, max: 3 }),
    state: fc.constantFrom('active' as const, 'draining' as const),
    labels: fc.constantFrom(MINE, FOREIGN, {}, { source: 'docker', network: 'other' }),
  });
  const uniqueById = (xs: BackendSpec[]): BackendSpec[] => [...new Map(xs.map((x) => [x.id, { ...x, labels: { ...x.labels } }])).values()];

  it('property: after applying the plan, the owned entries equal the desired ones and a second plan is empty', () => {
    fc.assert(
      fc.property(fc.array(arbSpec, { maxLength: 6 }), fc.array(arbSpec, { maxLength: 6 }), (d, a) => {
        const desired = uniqueById(d).map((x) => ({ ...x, labels: MINE }));
        const actual = uniqueById(a);
        const plan = reconcile(desired, actual, owns);
        const after = applyPlan(actual, plan.operations);
        // Idempotent: nothing left to do.
        assert.deepEqual(reconcile(desired, after, owns).operations, []);
        // Foreign entries untouched.
        for (const x of actual.filter((y) => !owns(y)))
          assert.deepEqual(
            after.find((y) => y.id === x.id),
            x,
          );
        // Every desired backend is there unless its id was taken by a foreign entry.
        const conflicted = new Set(plan.conflicts.map((c) => c.id));
        for (const x of desired)
          if (!conflicted.has(x.id))
            assert.deepEqual(
              after.find((y) => y.id === x.id),
              x,
            );
        // No owned entry survives that is not desired.
        for (const x of after.filter(owns)) assert.ok(desired.some((y) => y.id === x.id));
      }),
      { numRuns: 500 },
    );
  });
});

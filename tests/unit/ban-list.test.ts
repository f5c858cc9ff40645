import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BanList } from '../../balancer/edge/ban-list.js';

describe('ban list', () => {
  const settings = { after: 3, windowMs: 1000, durationMs: 5000, maxClients: 3 };

  it('bans after N strikes within the window, for the duration', () => {
    const b = new BanList(settings);
    assert.equal(b.strike('a', 'SWY_BAD_REQUEST', 0), undefined);
    assert.equal(b.strike('a', 'SWY_BAD_REQUEST', 100), undefined);
    const ban = b.strike('a', 'SWY_RATE_LIMITED', 200)!;
    assert.deepEqual(ban, { client: 'a', until: 5200, reason: 'SWY_RATE_LIMITED' });
    assert.equal(b.banned('a', 5199), ban);
    assert.equal(b.banned('a', 5200), undefined, 'it ends on time');
    assert.equal(b.banned('b', 0), undefined);
    assert.equal(b.total, 1);
  });

  it('strikes older than the window do not count', () => {
    const b = new BanList(settings);
    b.strike('a', 'x', 0);
    b.strike('a', 'x', 500);
    assert.equal(b.strike('a', 'x', 1600), undefined, 'a new window began');
    assert.equal(b.strike('a', 'x', 1700), undefined);
    assert.notEqual(b.strike('a', 'x', 1800), undefined);
  });

  it('lifts a ban, lists the ones in force, and stops counting new clients when full', () => {
    const b = new BanList(settings);
    for (const c of ['a', 'b']) for (let i = 0; i < 3; i++) b.strike(c, 'x', 10);
    assert.deepEqual(
      b.list(20).map((x) => x.client),
      ['a', 'b'],
    );
    assert.ok(b.lift('a'));
    assert.ok(!b.lift('a'));
    b.strike('c', 'x', 20);
    b.strike('d', 'x', 20);
    assert.equal(b.strike('e', 'x', 20), undefined);
    for (let i = 0; i < 3; i++) b.strike('e', 'x', 20);
    assert.equal(b.banned('e', 21), undefined, 'the table is full: e is not tracked');
    assert.equal(b.strike('', 'x', 20), undefined, 'no address, no ban');
  });

  it('shared: strikes go to the store, its bans and lifts arrive, a full read replaces what it sent before', () => {
    const b = new BanList(settings);
    const sent: string[] = [];
    let fail = false;
    b.shareWith({
      strike: (client, reason, fallback) => (fail ? fallback() : sent.push(`strike ${client} ${reason}`)),
      lift: (client) => sent.push(`lift ${client}`),
    });
    for (let i = 0; i < 5; i++) assert.equal(b.strike('a', 'SWY_RATE_LIMITED', 0), undefined, 'no ban here: the store decides');
    assert.equal(b.banned('a', 0), undefined);
    assert.equal(sent.length, 5);
    b.put({ client: 'a', until: 9000, reason: 'SWY_RATE_LIMITED', shared: true });
    b.put({ client: 'a', until: 8000, reason: 'SWY_RATE_LIMITED', shared: true });
    assert.equal(b.banned('a', 8500)?.until, 9000, 'the later end wins');
    assert.equal(b.total, 1);
    // The store fails: strikes are counted here.
    fail = true;
    for (let i = 0; i < 3; i++) b.strike('c', 'SWY_BAD_REQUEST', 0);
    assert.notEqual(b.banned('c', Date.now()), undefined, 'banned here while the store is away');
    // A full read: the shared ones are replaced, the one made here stays.
    b.replaceShared([{ client: 'd', until: 9000, reason: 'r', shared: true }]);
    assert.equal(b.banned('a', 100), undefined);
    assert.notEqual(b.banned('d', 100), undefined);
    assert.notEqual(b.banned('c', Date.now()), undefined);
    assert.equal(b.lift('d'), true);
    assert.deepEqual(sent.slice(-1), ['lift d']);
    b.put({ client: 'e', until: 9000, reason: 'r', shared: true });
    b.drop('e');
    assert.equal(b.banned('e', 100), undefined);
  });
});

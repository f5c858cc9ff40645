import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackendSpec } from '../../common/backend.js';
import { parseBanChange } from '../../common/registry/redis-edge-store.js';
import {
  decodeBackend,
  decodeEntry,
  decodeSnapshot,
  decodeSnapshotInSteps,
  encodeBackend,
  parseChangeMessage,
  redisKeys,
} from '../../common/registry/redis-schema.js';

describe('redis schema', () => {
  it('names its keys from the prefix', () => {
    const k = redisKeys('sy:');
    assert.deepEqual([k.backends, k.version, k.channel, k.backend('b1')], ['sy:backends', 'sy:version', 'sy:changes', 'sy:backend:b1']);
  });

  it('round-trips a backend through the hash encoding', () => {
    const spec = parseBackendSpec({ id: 'b1', url: 'http://10.0.0.1:80', weight: 3, state: 'draining', labels: { zone: 'a', app: 'x' } });
    assert.ok(spec.ok);
    const flat = encodeBackend(spec.value);
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    assert.equal(fields.labels, '{"app":"x","zone":"a"}');
    const back = decodeBackend('b1', fields);
    assert.ok(back.ok);
    assert.deepEqual(back.value, spec.value);
  });

  const malformed: [string, Record<string, string>, RegExp][] = [
    ['a missing hash', {}, /hash is missing/],
    ['a missing url', { weight: '1' }, /url is missing/],
    ['a bad url', { url: 'not a url' }, /not an http\(s\) origin/],
    ['a bad weight', { url: 'http://a:1', weight: 'heavy' }, /weight 'heavy'/],
    ['a bad state', { url: 'http://a:1', state: 'up' }, /state 'up'/],
    ['labels that are not JSON', { url: 'http://a:1', labels: '{oops' }, /labels is not valid JSON/],
  ];
  for (const [what, fields, pattern] of malformed) {
    it(`reports ${what} as malformed`, () => {
      const r = decodeBackend('b1', fields);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, pattern);
    });
  }

  it('parses change messages, JSON or a bare version', () => {
    assert.deepEqual(parseChangeMessage('{"version":7,"at":5}'), { version: 7, at: 5 });
    assert.deepEqual(parseChangeMessage('8'), { version: 8 });
    assert.equal(parseChangeMessage('{"v":1}'), undefined);
    assert.equal(parseChangeMessage('nope'), undefined);
  });

  // decodeSnapshot reads the snapshot script's reply: {'ok', version, at, id, entry, ...} or {'error', reason}.
  const keys = redisKeys('switchyard:');
  const good = (url: string, weight = '1'): (string | null)[] => [url, weight, 'active', '{}', '1700000000000'];

  it('decodes in steps (for a large reply, over several turns) to exactly what one call gives', () => {
    const raw: unknown[] = ['ok', '3', ''];
    for (let i = 24; i >= 0; i--) raw.push(`b${String(i).padStart(2, '0')}`, i % 7 === 3 ? 'wrong type: not a hash' : good(`http://10.0.0.${i + 1}:80`));
    const steps = decodeSnapshotInSteps(raw, keys, 10);
    let pauses = 0;
    let r = steps.next();
    while (!r.done) {
      pauses++;
      r = steps.next();
    }
    assert.equal(pauses, 2, '25 entries, 10 per step: two pauses');
    assert.deepEqual(r.value, decodeSnapshot(raw, keys));
    const decoded = r.value;
    assert.ok(decoded.ok);
    assert.equal(decoded.value.backends.length, 21);
    assert.equal(decoded.value.backends[0]!.id, 'b00');
  });

  it('decodes a snapshot, skipping each unreadable entry with its reason and keeping the rest', () => {
    const raw = [
      'ok',
      '12',
      '1700000000000',
      'b2',
      good('http://10.0.0.2:80', '3'),
      'str',
      'wrong type: string, not a hash',
      'lst',
      'wrong type: not a hash',
      'b1',
      good('http://10.0.0.1:80'),
      'bad-url',
      ['nope', null, null, null, null],
      'bad-weight',
      ['http://a:1', 'heavy', null, null, null],
      'bad-labels',
      ['http://a:1', null, null, '{oops', null],
      'big',
      'field labels is 20000 bytes, over the 16384-byte limit',
      'bad id!',
      good('http://a:1'),
    ];
    const r = decodeSnapshot(raw, keys);
    assert.ok(r.ok);
    assert.equal(r.value.version, 12);
    assert.equal(r.value.changedAt, 1700000000000);
    assert.deepEqual(
      r.value.backends.map((b) => [b.id, b.url, b.weight]),
      [
        ['b1', 'http://10.0.0.1', 1],
        ['b2', 'http://10.0.0.2', 3],
      ],
    );
    const why = Object.fromEntries(r.value.skipped.map((s) => [s.id, s.reason]));
    assert.deepEqual(Object.keys(why), ['bad id!', 'bad-labels', 'bad-url', 'bad-weight', 'big', 'lst', 'str']);
    assert.match(why['str']!, /wrong type: string/);
    assert.match(why['lst']!, /wrong type: not a hash/);
    assert.match(why['bad-url']!, /not an http\(s\) origin/);
    assert.match(why['bad-weight']!, /weight 'heavy'/);
    assert.match(why['bad-labels']!, /labels is not valid JSON/);
    assert.match(why['big']!, /over the 16384-byte limit/);
    assert.match(why['bad id!']!, /not a valid backend id/);
  });

  it('keeps the fields read of a malformed hash for the warning, and none of a wrong-typed key', () => {
    const hash = decodeEntry('b1', ['nope', '2', null, null, null]);
    assert.equal(hash.ok, false);
    if (!hash.ok) assert.deepEqual(hash.skipped.fields, { url: 'nope', weight: '2' });
    const str = decodeEntry('b1', 'wrong type: string, not a hash');
    assert.equal(str.ok, false);
    if (!str.ok) assert.equal(str.skipped.fields, undefined);
  });

  const versions: [string, string, number | RegExp][] = [
    ['an absent version as 0', '', 0],
    ['an integer version', '42', 42],
    ['a version that is not a number', 'abc', /switchyard:version holds 'abc', not a non-negative integer/],
    ['a negative version', '-3', /not a non-negative integer/],
    ['a fractional version', '1.5', /not a non-negative integer/],
    ['a version beyond 2^53', '9007199254740993123', /not a non-negative integer/],
  ];
  for (const [what, text, expected] of versions) {
    it(`reads ${what}`, () => {
      const r = decodeSnapshot(['ok', text, ''], keys);
      if (typeof expected === 'number') {
        assert.ok(r.ok);
        assert.equal(r.value.version, expected);
      } else {
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.reason, expected);
      }
    });
  }

  it('ignores a version time that is not an integer', () => {
    const r = decodeSnapshot(['ok', '1', 'soon'], keys);
    assert.ok(r.ok);
    assert.equal(r.value.changedAt, undefined);
  });

  it('fails a snapshot the script refused as a whole, or a reply it does not know', () => {
    const refused = decodeSnapshot(['error', 'switchyard:backends is a string, not a set'], keys);
    assert.deepEqual(refused, { ok: false, reason: 'switchyard:backends is a string, not a set' });
    for (const raw of [null, [], ['?', '1', ''], 'ok']) assert.equal(decodeSnapshot(raw, keys).ok, false);
  });
});

describe('ban announcements on the shared edge channel', () => {
  it('reads a ban and a lift, and drops anything else', () => {
    assert.deepEqual(parseBanChange('ban\n198.51.100.1\n60000\nSWY_RATE_LIMITED'), {
      kind: 'ban',
      client: '198.51.100.1',
      remainingMs: 60000,
      reason: 'SWY_RATE_LIMITED',
    });
    assert.deepEqual(parseBanChange('lift\n198.51.100.1'), { kind: 'lift', client: '198.51.100.1' });
    for (const bad of ['', 'ban', 'ban\n\n1\nr', 'ban\nc\n-5\nr', 'ban\nc\nsoon\nr', 'lift\n', 'unban\nc', `ban\nc\n1\n${'x'.repeat(3000)}`])
      assert.equal(parseBanChange(bad), undefined, JSON.stringify(bad.slice(0, 30)));
  });
});

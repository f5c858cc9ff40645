import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackendSpec } from '../../common/backend.js';
import { decodeBackend, encodeBackend, parseChangeMessage, redisKeys } from '../../common/registry/redis-schema.js';

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
});

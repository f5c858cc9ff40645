import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyEvent, type EventKind } from '../../controller/event-kinds.js';
import { toContainerEvent } from '../../controller/docker-source.js';

describe('classifyEvent: what a container event means', () => {
  const table: [string, number | undefined, EventKind][] = [
    ['start', undefined, 'register'],
    ['restart', undefined, 'register'],
    ['unpause', undefined, 'register'],
    ['health_status: healthy', undefined, 'register'],
    ['kill', 15, 'drain'],
    ['kill', 9, 'drain'],
    ['kill', 2, 'drain'],
    ['kill', 3, 'drain'],
    ['kill', 1, 'ignore'],
    ['kill', 10, 'ignore'],
    ['kill', undefined, 'ignore'],
    ['stop', undefined, 'drain'],
    ['die', undefined, 'deregister'],
    ['destroy', undefined, 'deregister'],
    ['pause', undefined, 'deregister'],
    ['oom', undefined, 'deregister'],
    ['health_status: unhealthy', undefined, 'deregister'],
    ['health_status: starting', undefined, 'ignore'],
    ['exec_start: node /app/docker/healthcheck.mjs', undefined, 'ignore'],
    ['create', undefined, 'ignore'],
    ['rename', undefined, 'ignore'],
  ];
  for (const [action, signal, kind] of table) {
    it(`${action}${signal !== undefined ? ` (signal ${signal})` : ''} -> ${kind}`, () => assert.equal(classifyEvent(action, signal), kind));
  }
});

describe('toContainerEvent: engine messages', () => {
  it('reads a kill event with its signal and nanosecond time', () => {
    const e = toContainerEvent({
      Type: 'container',
      Action: 'kill',
      Actor: { ID: 'abc', Attributes: { name: 'p_backend_3', signal: '15' } },
      time: 1700000000,
      timeNano: 1700000000123456789,
    });
    assert.deepEqual(e, { action: 'kill', containerId: 'abc', name: 'p_backend_3', signal: 15, at: 1700000000123 });
  });
  it('falls back to the old status/id fields and second resolution', () => {
    assert.deepEqual(toContainerEvent({ status: 'die', id: 'abc', time: 1700000000 }), {
      action: 'die',
      containerId: 'abc',
      name: '',
      signal: undefined,
      at: 1700000000000,
    });
  });
  it('ignores other event types and messages without an actor', () => {
    assert.equal(toContainerEvent({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } }), undefined);
    assert.equal(toContainerEvent({ Type: 'container' }), undefined);
  });
});

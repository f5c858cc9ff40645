import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tasksToFacts, type SwarmService, type SwarmTask } from '../../controller/swarm-source.js';
import { toBackends } from '../../controller/to-backends.js';

const service: SwarmService = {
  ID: 'svc1',
  Spec: {
    Name: 'switchyard_backend',
    Labels: { 'com.docker.stack.namespace': 'switchyard', 'switchyard.enable': 'true', 'switchyard.port': '8081', 'switchyard.weight': '2' },
  },
};

function task(id: string, slot: number, state: string, desired: string, ip = `10.0.1.${slot + 10}`): SwarmTask {
  return {
    ID: id,
    ServiceID: 'svc1',
    Slot: slot,
    NodeID: 'node1',
    DesiredState: desired,
    Status: { State: state, Timestamp: '2026-12-07T03:00:00.000Z' },
    Spec: { ContainerSpec: { Labels: { 'switchyard.port': '9999', other: 'x' } } },
    NetworksAttachments: [
      { Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.5/24'] },
      { Network: { Spec: { Name: 'switchyard_backends' } }, Addresses: [`${ip}/24`] },
    ],
  };
}

const opts = { network: 'switchyard_backends', labelPrefix: 'switchyard', project: 'switchyard' };

describe('swarm tasks as backends', () => {
  it('makes a backend of each running task, by its address on the overlay network, with the service labels winning', () => {
    const facts = tasksToFacts([service], [task('t2', 2, 'running', 'running'), task('t1', 1, 'running', 'running')]);
    assert.deepEqual(
      facts.map((f) => f.name),
      ['switchyard_backend.1.t1', 'switchyard_backend.2.t2'],
    );
    assert.equal(facts[0]!.labels['switchyard.port'], '8081', 'deploy.labels over container labels');
    assert.equal(facts[0]!.labels.other, 'x');
    const { backends, skipped } = toBackends(facts, opts);
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      backends.map((b) => [b.id, b.url, b.weight, b.state, b.labels.project, b.labels.service, b.labels.container]),
      [
        ['switchyard_backend.1.t1', 'http://10.0.1.11:8081', 2, 'active', 'switchyard', 'switchyard_backend', 't1'],
        ['switchyard_backend.2.t2', 'http://10.0.1.12:8081', 2, 'active', 'switchyard', 'switchyard_backend', 't2'],
      ],
    );
  });

  it('drains a running task as soon as its desired state leaves running (scale-down, update, removal)', () => {
    const facts = tasksToFacts([service], [task('t1', 1, 'running', 'shutdown'), task('t2', 2, 'running', 'remove'), task('t3', 3, 'running', 'running')]);
    assert.deepEqual(
      toBackends(facts, opts).backends.map((b) => [b.id, b.state]),
      [
        ['switchyard_backend.1.t1', 'draining'],
        ['switchyard_backend.2.t2', 'draining'],
        ['switchyard_backend.3.t3', 'active'],
      ],
    );
  });

  it('keeps an old and a new task of one slot apart during a start-first update', () => {
    const facts = tasksToFacts([service], [task('old', 1, 'running', 'shutdown', '10.0.1.20'), task('new', 1, 'running', 'running', '10.0.1.21')]);
    const { backends, skipped } = toBackends(facts, opts);
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      backends.map((b) => [b.url, b.state]),
      [
        ['http://10.0.1.21:8081', 'active'],
        ['http://10.0.1.20:8081', 'draining'],
      ],
    );
  });

  it('leaves out tasks that have ended, and does not route to ones still starting (health check pending)', () => {
    const facts = tasksToFacts(
      [service],
      ['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']
        .map((s, i) => task(`e${i}`, i + 1, s, 'shutdown'))
        .concat(task('s', 9, 'starting', 'running')),
    );
    assert.deepEqual(
      facts.map((f) => f.state),
      ['starting'],
    );
    const { backends, skipped } = toBackends(facts, opts);
    assert.deepEqual(backends, []);
    assert.deepEqual(
      skipped.map((s) => [s.reason, s.misconfigured]),
      [['not running (starting)', false]],
    );
  });

  it('ignores tasks of unknown services, and filters by stack like a Compose project', () => {
    assert.deepEqual(tasksToFacts([service], [{ ...task('x', 1, 'running', 'running'), ServiceID: 'other' }]), []);
    const facts = tasksToFacts([service], [task('t1', 1, 'running', 'running')]);
    assert.equal(toBackends(facts, { ...opts, project: 'another-stack' }).backends.length, 0);
  });

  it('reports a task off the overlay network as misconfigured', () => {
    const t = { ...task('t1', 1, 'running', 'running'), NetworksAttachments: [{ Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.5/24'] }] };
    const { skipped } = toBackends(tasksToFacts([service], [t]), opts);
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.misconfigured, true);
    assert.match(skipped[0]!.reason, /not attached to network 'switchyard_backends' \(attached to: ingress\)/);
  });
});

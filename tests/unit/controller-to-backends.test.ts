import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendSpec } from '../../common/backend.js';
import type { ContainerFacts } from '../../controller/container-source.js';
import { isOwned, toBackends, type ToBackendsOptions } from '../../controller/to-backends.js';

const NET = 'switchyard';
const OPTS: ToBackendsOptions = { network: NET, labelPrefix: 'switchyard' };

/** A labelled, running, healthy container on the chosen network; `patch` changes one fact. */
function box(name: string, patch: Partial<ContainerFacts> & { extraLabels?: Record<string, string>; dropLabels?: string[] } = {}): ContainerFacts {
  const labels: Record<string, string> = {
    'switchyard.enable': 'true',
    'switchyard.port': '8081',
    'com.docker.compose.project': 'demo',
    'com.docker.compose.service': 'backend',
    ...patch.extraLabels,
  };
  for (const l of patch.dropLabels ?? []) delete labels[l];
  const { extraLabels: _e, dropLabels: _d, ...facts } = patch;
  return {
    id: `id-${name}`,
    name,
    state: 'running',
    health: 'healthy',
    startedAt: 1000,
    labels,
    networks: { [NET]: { ip: `10.0.0.${name.length}` } },
    ...facts,
  };
}

interface Case {
  readonly desc: string;
  readonly containers: readonly ContainerFacts[];
  readonly opts?: Partial<ToBackendsOptions>;
  /** Expected backends as `id url weight state`. */
  readonly backends: readonly string[];
  /** Expected skipped containers as `name: misconfigured|transient: reason fragment`. */
  readonly skipped?: readonly string[];
}

const CASES: readonly Case[] = [
  { desc: 'a labelled, running, healthy container on the network', containers: [box('a')], backends: ['a http://10.0.0.1:8081 1 active'] },
  { desc: 'no HEALTHCHECK: running is enough', containers: [box('a', { health: 'none' })], backends: ['a http://10.0.0.1:8081 1 active'] },
  { desc: 'weight label', containers: [box('a', { extraLabels: { 'switchyard.weight': '5' } })], backends: ['a http://10.0.0.1:8081 5 active'] },
  {
    desc: 'weight 0 is allowed (no new traffic)',
    containers: [box('a', { extraLabels: { 'switchyard.weight': '0' } })],
    backends: ['a http://10.0.0.1:8081 0 active'],
  },
  {
    desc: 'id label overrides the container name',
    containers: [box('a', { extraLabels: { 'switchyard.id': 'api-1' } })],
    backends: ['api-1 http://10.0.0.1:8081 1 active'],
  },
  {
    desc: 'sorted by id whatever the input order',
    containers: [box('ccc'), box('a'), box('bb')],
    backends: ['a http://10.0.0.1:8081 1 active', 'bb http://10.0.0.2:8081 1 active', 'ccc http://10.0.0.3:8081 1 active'],
  },
  { desc: 'no labels at all: ignored silently', containers: [box('a', { dropLabels: ['switchyard.enable', 'switchyard.port'] })], backends: [], skipped: [] },
  { desc: 'enable=false: ignored silently', containers: [box('a', { extraLabels: { 'switchyard.enable': 'false' } })], backends: [], skipped: [] },
  {
    desc: 'enable=yes: misconfigured',
    containers: [box('a', { extraLabels: { 'switchyard.enable': 'yes' } })],
    backends: [],
    skipped: ['a: misconfigured: must be true or false'],
  },
  { desc: 'another label prefix', containers: [box('a')], opts: { labelPrefix: 'lb' }, backends: [], skipped: [] },
  { desc: 'another Compose project: ignored', containers: [box('a')], opts: { project: 'other' }, backends: [], skipped: [] },
  { desc: 'the chosen Compose project', containers: [box('a')], opts: { project: 'demo' }, backends: ['a http://10.0.0.1:8081 1 active'] },
  { desc: 'exited', containers: [box('a', { state: 'exited' })], backends: [], skipped: ['a: transient: not running (exited)'] },
  { desc: 'created, never started', containers: [box('a', { state: 'created' })], backends: [], skipped: ['a: transient: not running (created)'] },
  { desc: 'restarting', containers: [box('a', { state: 'restarting' })], backends: [], skipped: ['a: transient: not running (restarting)'] },
  { desc: 'paused', containers: [box('a', { state: 'paused' })], backends: [], skipped: ['a: transient: paused'] },
  { desc: 'health check still starting', containers: [box('a', { health: 'starting' })], backends: [], skipped: ['a: transient: health check starting'] },
  { desc: 'unhealthy', containers: [box('a', { health: 'unhealthy' })], backends: [], skipped: ['a: transient: unhealthy'] },
  {
    desc: 'port label missing',
    containers: [box('a', { dropLabels: ['switchyard.port'] })],
    backends: [],
    skipped: ['a: misconfigured: switchyard.port is missing'],
  },
  {
    desc: 'port label not a number',
    containers: [box('a', { extraLabels: { 'switchyard.port': 'http' } })],
    backends: [],
    skipped: ["a: misconfigured: switchyard.port is 'http'"],
  },
  {
    desc: 'port label out of range',
    containers: [box('a', { extraLabels: { 'switchyard.port': '70000' } })],
    backends: [],
    skipped: ["a: misconfigured: switchyard.port is '70000'"],
  },
  { desc: 'port 0', containers: [box('a', { extraLabels: { 'switchyard.port': '0' } })], backends: [], skipped: ["a: misconfigured: switchyard.port is '0'"] },
  {
    desc: 'weight not an integer',
    containers: [box('a', { extraLabels: { 'switchyard.weight': '1.5' } })],
    backends: [],
    skipped: ["a: misconfigured: switchyard.weight is '1.5'"],
  },
  {
    desc: 'weight too large',
    containers: [box('a', { extraLabels: { 'switchyard.weight': '1001' } })],
    backends: [],
    skipped: ["a: misconfigured: switchyard.weight is '1001'"],
  },
  {
    desc: 'invalid id label',
    containers: [box('a', { extraLabels: { 'switchyard.id': 'has space' } })],
    backends: [],
    skipped: ["a: misconfigured: backend id 'has space'"],
  },
  {
    desc: 'not on the chosen network: misconfigured, never guessed',
    containers: [box('a', { networks: { bridge: { ip: '172.17.0.2' } } })],
    backends: [],
    skipped: ["a: misconfigured: not attached to network 'switchyard' (attached to: bridge)"],
  },
  { desc: 'on no network at all', containers: [box('a', { networks: {} })], backends: [], skipped: ['a: misconfigured: (attached to: none)'] },
  {
    desc: 'on two networks: the address on the chosen one',
    containers: [box('a', { networks: { bridge: { ip: '172.17.0.2' }, [NET]: { ip: '10.9.9.9' } } })],
    backends: ['a http://10.9.9.9:8081 1 active'],
  },
  {
    desc: 'on the network without an address yet',
    containers: [box('a', { networks: { [NET]: { ip: '' } } })],
    backends: [],
    skipped: ["a: transient: no IPv4 address on network 'switchyard'"],
  },
  {
    desc: 'misconfiguration is not reported for a container that is not running',
    containers: [box('a', { state: 'exited', dropLabels: ['switchyard.port'] })],
    backends: [],
    skipped: ['a: transient: not running (exited)'],
  },
  {
    desc: 'two containers claim one id: the first by name keeps it',
    containers: [box('b', { extraLabels: { 'switchyard.id': 'api' } }), box('a', { extraLabels: { 'switchyard.id': 'api' } })],
    backends: ['api http://10.0.0.1:8081 1 active'],
    skipped: ["b: misconfigured: backend id 'api' is already used by container a"],
  },
  {
    desc: 'stop signal seen after the start: draining',
    containers: [box('a', { startedAt: 1000 })],
    opts: { stopping: new Map([['id-a', 2000]]) },
    backends: ['a http://10.0.0.1:8081 1 draining'],
  },
  {
    desc: 'started again after the stop signal: active',
    containers: [box('a', { startedAt: 3000 })],
    opts: { stopping: new Map([['id-a', 2000]]) },
    backends: ['a http://10.0.0.1:8081 1 active'],
  },
  {
    desc: 'stop signal and unhealthy: gone',
    containers: [box('a', { health: 'unhealthy' })],
    opts: { stopping: new Map([['id-a', 2000]]) },
    backends: [],
    skipped: ['a: transient: unhealthy'],
  },
  { desc: 'IPv6 address is bracketed', containers: [box('a', { networks: { [NET]: { ip: 'fd00::5' } } })], backends: ['a http://[fd00::5]:8081 1 active'] },
];

function show(b: BackendSpec): string {
  return `${b.id} ${b.url} ${b.weight} ${b.state}`;
}

describe('toBackends: containers into desired backends', () => {
  for (const c of CASES) {
    it(c.desc, () => {
      const out = toBackends(c.containers, { ...OPTS, ...c.opts });
      assert.deepEqual(out.backends.map(show), c.backends);
      if (c.skipped !== undefined) {
        assert.equal(out.skipped.length, c.skipped.length, `skipped: ${JSON.stringify(out.skipped)}`);
        c.skipped.forEach((want, i) => {
          const [name, kind, fragment] = want.split(': ', 3) as [string, string, string];
          const got = out.skipped[i]!;
          assert.equal(got.name, name);
          assert.equal(got.misconfigured, kind === 'misconfigured', `misconfigured flag of ${got.reason}`);
          assert.ok(got.reason.includes(fragment), `'${got.reason}' should mention '${fragment}'`);
        });
      }
    });
  }

  it('labels every entry with its owner and origin', () => {
    const [b] = toBackends([box('demo_backend_1')], OPTS).backends;
    assert.deepEqual(b!.labels, {
      source: 'docker',
      network: NET,
      container: 'id-demo_backend_1',
      name: 'demo_backend_1',
      project: 'demo',
      service: 'backend',
    });
  });

  it('is pure: the same input gives the same output and the input is not changed', () => {
    const input = [box('b'), box('a')];
    const copy = structuredClone(input);
    assert.deepEqual(toBackends(input, OPTS), toBackends(input, OPTS));
    assert.deepEqual(input, copy);
  });
});

describe('isOwned: which registry entries the controller may touch', () => {
  const entry = (labels: Record<string, string>): BackendSpec => ({ id: 'x', url: 'http://10.0.0.1:80', weight: 1, state: 'active', labels });
  const table: [string, Record<string, string>, { network: string; project?: string }, boolean][] = [
    ['written by this controller', { source: 'docker', network: NET }, { network: NET }, true],
    ['written by hand or the admin API', {}, { network: NET }, false],
    ['written by another source', { source: 'static', network: NET }, { network: NET }, false],
    ['written by a controller of another network', { source: 'docker', network: 'other' }, { network: NET }, false],
    ['another project, with a project filter', { source: 'docker', network: NET, project: 'a' }, { network: NET, project: 'b' }, false],
    ['the same project, with a project filter', { source: 'docker', network: NET, project: 'b' }, { network: NET, project: 'b' }, true],
  ];
  for (const [desc, labels, scope, owned] of table) it(desc, () => assert.equal(isOwned(entry(labels), scope), owned));
});

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { silentLogger } from '../../common/logger.js';
import type { ContainerEvent } from '../../controller/container-source.js';
import { DockerSource, eventStreamBackoff } from '../../controller/docker-source.js';
import { waitFor } from '../helpers/wait.js';

/** Just enough of dockerode: an event stream per call (or a refusal), a listing and inspects. */
class FakeDocker {
  streams: PassThrough[] = [];
  refuse = 0;
  eventCalls = 0;
  filters: unknown[] = [];
  listing: Partial<Dockerode.ContainerInfo>[] = [];
  inspects = new Map<string, Partial<Dockerode.ContainerInspectInfo> | 'gone'>();

  async getEvents(opts: { filters: unknown }): Promise<NodeJS.ReadableStream> {
    this.eventCalls++;
    this.filters.push(opts.filters);
    if (this.refuse > 0) {
      this.refuse--;
      throw Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
    }
    const s = new PassThrough();
    this.streams.push(s);
    return s;
  }
  async listContainers(): Promise<Partial<Dockerode.ContainerInfo>[]> {
    return this.listing;
  }
  getContainer(id: string): { inspect: () => Promise<unknown> } {
    return {
      inspect: async () => {
        const i = this.inspects.get(id);
        if (i === undefined || i === 'gone') throw Object.assign(new Error('no such container'), { statusCode: 404 });
        return i;
      },
    };
  }
}

function source(docker: FakeDocker, backoff: (n: number) => number = () => 10): { src: DockerSource; events: ContainerEvent[]; connects: number[] } {
  const src = new DockerSource({ docker: docker as unknown as Dockerode, labelPrefix: 'switchyard', project: 'demo', logger: silentLogger(), backoff });
  const events: ContainerEvent[] = [];
  const connects: number[] = [];
  src.watch({ event: (e) => events.push(e), connected: () => connects.push(Date.now()), disconnected: () => undefined, changed: () => undefined });
  return { src, events, connects };
}

describe('DockerSource', () => {
  it('asks the engine only for labelled containers of the project and the watched actions', async () => {
    const docker = new FakeDocker();
    const { src } = source(docker);
    await src.start();
    await waitFor('stream', () => docker.streams.length === 1);
    assert.deepEqual(docker.filters[0], {
      type: ['container'],
      label: ['switchyard.enable', 'com.docker.compose.project=demo'],
      event: ['start', 'restart', 'unpause', 'health_status', 'kill', 'stop', 'die', 'destroy', 'pause', 'oom'],
    });
    await src.close();
  });

  it('reads newline-delimited events split anywhere across chunks, and skips garbage', async () => {
    const docker = new FakeDocker();
    const { src, events } = source(docker);
    await src.start();
    await waitFor('stream', () => docker.streams.length === 1);
    const a = JSON.stringify({ Type: 'container', Action: 'kill', Actor: { ID: 'c1', Attributes: { name: 'x_1', signal: '15' } }, timeNano: 5_000_000_000 });
    const b = JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'c1', Attributes: { name: 'x_1' } }, timeNano: 6_000_000_000 });
    const s = docker.streams[0]!;
    s.write(a.slice(0, 10));
    s.write(`${a.slice(10)}\nnot json\n${b.slice(0, 5)}`);
    s.write(`${b.slice(5)}\n`);
    await waitFor('two events', () => events.length === 2);
    assert.deepEqual(
      events.map((e) => [e.action, e.containerId, e.signal, e.at]),
      [
        ['kill', 'c1', 15, 5000],
        ['die', 'c1', undefined, 6000],
      ],
    );
    await src.close();
  });

  it('reconnects after the stream ends or the engine refuses, and says so each time', async () => {
    const docker = new FakeDocker();
    const { src, connects } = source(docker);
    await src.start();
    await waitFor('first stream', () => connects.length === 1);
    docker.refuse = 2;
    docker.streams[0]!.end();
    await waitFor('reconnected after two refusals', () => connects.length === 2, 2000);
    assert.equal(docker.eventCalls, 4);
    docker.streams[1]!.destroy(new Error('socket hang up'));
    await waitFor('reconnected after an error', () => connects.length === 3, 2000);
    await src.close();
    const calls = docker.eventCalls;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(docker.eventCalls, calls, 'no reconnect after close');
  });

  it('counts failed attempts up until a stream stays connected for a while', async () => {
    const docker = new FakeDocker();
    let clock = 0;
    const attempts: number[] = [];
    const src = new DockerSource({
      docker: docker as unknown as Dockerode,
      labelPrefix: 'switchyard',
      logger: silentLogger(),
      now: () => clock,
      backoff: (n) => (attempts.push(n), 5),
    });
    let connects = 0;
    src.watch({ event: () => undefined, connected: () => connects++, disconnected: () => undefined, changed: () => undefined });
    await src.start();
    await waitFor('first stream', () => connects === 1);
    docker.refuse = 3;
    clock += 1000; // up only 1 s: not stable
    docker.streams[0]!.end();
    await waitFor('reconnected', () => connects === 2, 2000);
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    clock += 10_000; // this one stays up 10 s: the next break starts over
    docker.streams[1]!.end();
    await waitFor('reconnected again', () => connects === 3, 2000);
    assert.deepEqual(attempts, [1, 2, 3, 4, 1]);
    await src.close();
  });

  it('backs off exponentially with a cap', () => {
    const mids = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => {
      let lo = Infinity;
      let hi = 0;
      for (let i = 0; i < 200; i++) {
        const d = eventStreamBackoff(n);
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      }
      return [lo, hi];
    });
    assert.ok(mids[0]![0]! >= 200 && mids[0]![1]! <= 300, `first ${mids[0]}`);
    assert.ok(mids[1]![0]! >= 400 && mids[1]![1]! <= 600, `second ${mids[1]}`);
    assert.ok(mids[8]![1]! <= 12_000 && mids[8]![0]! >= 8000, `capped ${mids[8]}`);
  });

  it('lists: inspects live containers, takes the rest from the listing, drops ones removed meanwhile', async () => {
    const docker = new FakeDocker();
    docker.listing = [
      { Id: 'run', Names: ['/p_backend_1'], State: 'running', Labels: {}, NetworkSettings: { Networks: {} } },
      { Id: 'gone', Names: ['/p_backend_2'], State: 'running', Labels: {}, NetworkSettings: { Networks: {} } },
      {
        Id: 'dead',
        Names: ['/p_backend_3'],
        State: 'exited',
        Labels: { a: 'b' },
        NetworkSettings: { Networks: { sw: { IPAddress: '' } as Dockerode.NetworkInfo } },
      },
    ];
    docker.inspects.set('run', {
      Id: 'run',
      Name: '/p_backend_1',
      State: {
        Status: 'running',
        Health: { Status: 'healthy', FailingStreak: 0, Log: [] },
        StartedAt: '2026-01-02T03:04:05.123456789Z',
      } as unknown as Dockerode.ContainerInspectInfo['State'],
      Config: { Labels: { 'switchyard.enable': 'true' } } as unknown as Dockerode.ContainerInspectInfo['Config'],
      NetworkSettings: { Networks: { sw: { IPAddress: '10.0.0.2' } } } as unknown as Dockerode.ContainerInspectInfo['NetworkSettings'],
    });
    docker.inspects.set('gone', 'gone');
    const { src } = source(docker);
    const facts = await src.list();
    assert.deepEqual(facts, [
      {
        id: 'run',
        name: 'p_backend_1',
        state: 'running',
        health: 'healthy',
        startedAt: Date.parse('2026-01-02T03:04:05.123Z'),
        labels: { 'switchyard.enable': 'true' },
        networks: { sw: { ip: '10.0.0.2' } },
      },
      { id: 'dead', name: 'p_backend_3', state: 'exited', health: 'none', startedAt: 0, labels: { a: 'b' }, networks: { sw: { ip: '' } } },
    ]);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { composeV2, ensureV2Copy, inV2Dir, V2, v2Containers, v2MakeEnv, v2ProxyUrl, v2Routable } from './support/compose-v2.js';
import { describeLoad, LoadRun } from './support/load.js';
import { sleep, waitFor } from './support/stack.js';

/**
 * Issue 13: the README's walk-through with Compose v2 (`docker compose`,
 * containers named `<project>-backend-3`). The rest of the suite runs on one
 * Compose chosen by scripts/e2e.sh (v1 when installed); this file runs on v2
 * alone, in a project and copy of its own: `make up` with v2 forced
 * (SWITCHYARD_COMPOSE), then the user's own commands typed in the project
 * directory: `docker compose scale backend=5`, `docker compose up -d --scale
 * backend=5`, `docker stop <project>-backend-3`, GETs to the published port.
 *
 * Without Compose v2 (bookworm has only v1; `make compose-v2` adds it) this
 * fails in CI (CI=true) and is reported as not run elsewhere. .ci/run goes
 * on when its install of v2 fails and says why in SWITCHYARD_COMPOSE_V2_ERROR:
 * the failure names that cause.
 */
const v2 = await composeV2();
const missing = 'missing' in v2 ? v2.missing : '';
const version = 'version' in v2 ? v2.version : '';
const installFailed = process.env.SWITCHYARD_COMPOSE_V2_ERROR ? `; .ci/run could not install it: ${process.env.SWITCHYARD_COMPOSE_V2_ERROR}` : '';
const howToInstall = `install it with 'make compose-v2' (scripts/compose-v2.sh: Debian trixie's docker-compose as a Docker CLI plugin; elsewhere https://docs.docker.com/compose/install/linux/)`;
const banner = (text: string): void => {
  const line = '!'.repeat(76);
  process.stderr.write(`\n${line}\n!!! ${text}\n${line}\n\n`);
};

if (missing && process.env.CI === 'true') {
  describe('Compose v2 walk-through', () => {
    it('needs Compose v2', () => {
      banner(`Compose v2 walk-through FAILED: ${missing}${installFailed}. In CI it must run: ${howToInstall}.`);
      assert.fail(`${missing}${installFailed}. In CI the Compose v2 walk-through must run: ${howToInstall}`);
    });
  });
} else if (missing) {
  banner(`COMPOSE V2 WALK-THROUGH NOT RUN: ${missing}${installFailed}. 'make compose-v2' installs it beside Compose v1.`);
  describe('Compose v2 walk-through', { skip: `NOT RUN: ${missing} (make compose-v2 installs it)` }, () => {
    it('make up, docker compose scale, docker compose up --scale, docker stop, curl');
  });
} else {
  const backendName = (n: number): string => `${V2.project}-backend-${n}`;
  const names = (...ns: number[]): string[] => ns.map(backendName).sort();
  const ids = async (): Promise<Map<string, string>> => new Map((await v2Containers()).map((c) => [c.Names[0]!.replace(/^\//, ''), c.Id]));
  /** Containers running before a scale-up that are not the same containers after it. */
  const recreated = (before: Map<string, string>, after: Map<string, string>): string[] =>
    [...before].filter(([name, id]) => after.get(name) !== id).map(([name]) => name);
  const make = (target: string, vars: Record<string, string | number> = {}) =>
    inV2Dir('make', ['--no-print-directory', target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], { env: v2MakeEnv() });

  describe(`Compose v2 walk-through (docker compose ${version}, project ${V2.project})`, () => {
    before(async () => {
      await ensureV2Copy();
      await make('down');
    });
    after(async () => {
      if (process.env.E2E_KEEP === '1') return;
      await make('down').catch((err: Error) => process.stderr.write(`make down of ${V2.project}: ${err.message}\n`));
    });

    it('make up with SWITCHYARD_COMPOSE="docker compose" starts 3 backends named <project>-backend-N, all routable', async (t: TestContext) => {
      const up = await make('up', { BACKENDS: 3 });
      t.diagnostic(`make up (Compose v2): ${(up.ms / 1000).toFixed(1)} s`);
      assert.match(up.output, /with docker compose v?2\./, 'stack.sh used Compose v2');
      await waitFor('3 routable backends', async () => (await v2Routable()).length === 3, 60_000);
      assert.deepEqual(await v2Routable(), names(1, 2, 3));
    });

    it('docker compose scale backend=5: 5 routable backends, none of the running containers recreated', async (t: TestContext) => {
      const before = await ids();
      const r = await inV2Dir('docker', ['compose', 'scale', 'backend=5']);
      const t0 = Date.now();
      await waitFor('5 routable backends', async () => (await v2Routable()).length === 5, 60_000);
      t.diagnostic(`docker compose scale backend=5: ${(r.ms / 1000).toFixed(1)} s, then 5 routable after ${Date.now() - t0} ms`);
      assert.deepEqual(await v2Routable(), names(1, 2, 3, 4, 5));
      assert.deepEqual(recreated(before, await ids()), []);

      // Back to 3 for the next way of scaling.
      await inV2Dir('docker', ['compose', 'scale', 'backend=3']);
      await waitFor('3 routable backends', async () => (await v2Routable()).length === 3, 60_000);
      assert.equal((await v2Containers('backend', true)).length, 3, 'scaling down removed the two extra containers');
    });

    it('docker compose up -d --scale backend=5: 5 routable backends, none of the running containers recreated', async (t: TestContext) => {
      const before = await ids();
      const r = await inV2Dir('docker', ['compose', 'up', '-d', '--scale', 'backend=5']);
      const t0 = Date.now();
      await waitFor('5 routable backends', async () => (await v2Routable()).length === 5, 60_000);
      t.diagnostic(`docker compose up -d --scale backend=5: ${(r.ms / 1000).toFixed(1)} s, then 5 routable after ${Date.now() - t0} ms`);
      assert.deepEqual(await v2Routable(), names(1, 2, 3, 4, 5));
      assert.deepEqual(recreated(before, await ids()), []);
    });

    it(`docker stop <project>-backend-3 under traffic: 4 routable, no request fails`, async (t: TestContext) => {
      const load = new LoadRun({ url: v2ProxyUrl, concurrency: 8, durationMs: 10_000, maxRequests: 1_000_000 });
      await sleep(2000);
      const stop = await inV2Dir('docker', ['stop', backendName(3)]);
      assert.equal(stop.output.trim(), backendName(3), 'docker stop takes the Compose v2 container name');
      await waitFor('4 routable backends', async () => (await v2Routable()).length === 4, 30_000);
      const r = await load.done;
      t.diagnostic(`docker stop: ${(stop.ms / 1000).toFixed(1)} s; ${describeLoad(r)}`);
      assert.equal(r.failed, 0, `failed requests:\n${r.failures.join('\n')}`);
      assert.ok((r.byBackend.get(backendName(3))?.count ?? 0) > 0, `${backendName(3)} served traffic before it was stopped`);
      assert.deepEqual(await v2Routable(), names(1, 2, 4, 5));
    });

    it('GETs to the published port (curl localhost:PORT) answer from the 4 running backends', async (t: TestContext) => {
      const seen = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const res = await request(`http://localhost:${V2.port}/`, { headersTimeout: 5000, bodyTimeout: 5000 });
        await res.body.text();
        assert.equal(res.statusCode, 200);
        const b = String(res.headers['x-backend']);
        seen.set(b, (seen.get(b) ?? 0) + 1);
      }
      t.diagnostic(`40 GETs to localhost:${V2.port}: ${[...seen].map(([k, v]) => `${k}=${v}`).join(' ')}`);
      assert.deepEqual([...seen.keys()].sort(), names(1, 2, 4, 5));
    });
  });
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { request } from 'undici';
import { docker, E2E, run, type AdminBackend, type CommandResult } from './stack.js';

const env = process.env;
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const v2Project = env.SWITCHYARD_E2E_V2_PROJECT ?? `${E2E.project}v2`;

/**
 * The Compose v2 walk-through's stack: a project, ports, network, image and
 * clean copy of its own (its .env names its project, so a plain
 * `docker compose ...` there never reaches the main suite's stack).
 * scripts/e2e.sh exports the same values, to tear it down.
 */
export const V2 = Object.freeze({
  project: v2Project,
  port: Number(env.SWITCHYARD_E2E_V2_PORT ?? E2E.port + 10),
  adminPort: Number(env.SWITCHYARD_E2E_V2_ADMIN_PORT ?? E2E.adminPort + 10),
  tlsPort: Number(env.SWITCHYARD_E2E_V2_TLS_PORT ?? E2E.tlsPort + 10),
  network: `${v2Project}-net`,
  image: `switchyard:${v2Project}`,
  dir: env.SWITCHYARD_E2E_V2_DIR ?? `${E2E.dir}-v2`,
});

export const v2ProxyUrl = `http://127.0.0.1:${V2.port}`;
const v2AdminUrl = `http://127.0.0.1:${V2.adminPort}`;

/**
 * What a user's shell has after `make up`: the stack's ports, network and
 * image (the defaults a user gets, moved aside for the suite) and no project
 * name, so plain `docker compose` commands find it in the copy's .env.
 */
export function v2UserEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...env,
    SWITCHYARD_PUBLISH_PORT: String(V2.port),
    SWITCHYARD_PUBLISH_ADMIN_PORT: String(V2.adminPort),
    SWITCHYARD_PUBLISH_TLS_PORT: String(V2.tlsPort),
    SWITCHYARD_NETWORK: V2.network,
    SWITCHYARD_IMAGE: V2.image,
  };
  delete e.COMPOSE_PROJECT_NAME;
  delete e.PROJECT;
  delete e.SWITCHYARD_COMPOSE;
  return e;
}

/** The make targets' environment: the user's, with the project and Compose v2 forced. */
export function v2MakeEnv(): NodeJS.ProcessEnv {
  return { ...v2UserEnv(), PROJECT: V2.project, SWITCHYARD_COMPOSE: 'docker compose' };
}

/** The version `docker compose` (v2) reports, or why there is none. */
export async function composeV2(): Promise<{ version: string } | { missing: string }> {
  const r = await run('docker', ['compose', 'version'], { cwd: REPO, env, timeoutMs: 30_000 }).catch((err: Error) => ({
    code: -1,
    output: err.message,
    ms: 0,
  }));
  const said = r.output.trim();
  const m = /version v?(2\.\S+)/.exec(said);
  if (r.code === 0 && m) return { version: m[1]! };
  return {
    missing:
      r.code === 0 ? `docker compose is not Compose v2 (${said})` : `'docker compose' (Compose v2) is not installed (docker says: ${said.split('\n')[0]})`,
  };
}

/** A command in the walk-through's copy, as a user types it; throws with its output when it fails. */
export async function inV2Dir(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  const r = await run(cmd, args, { cwd: V2.dir, env: opts.env ?? v2UserEnv(), timeoutMs: opts.timeoutMs ?? 600_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.output}`);
  return r;
}

/** The walk-through's own clean copy (same source as the main suite's: SWITCHYARD_E2E_COMMITTED is honoured). */
export async function ensureV2Copy(): Promise<void> {
  if (existsSync(join(V2.dir, 'docker-compose.yml'))) return;
  const r = await run('bash', [join(REPO, 'scripts/clean-copy.sh'), V2.dir], { cwd: REPO, env });
  if (r.code !== 0) throw new Error(`clean copy failed:\n${r.output}`);
}

/** The walk-through stack's containers (running ones unless `all`), by Compose's labels. */
export async function v2Containers(service?: string, all = false): Promise<Docker.ContainerInfo[]> {
  const label = [`com.docker.compose.project=${V2.project}`];
  if (service) label.push(`com.docker.compose.service=${service}`);
  return docker.listContainers({ all, filters: { label } });
}

/** The balancer's view through its admin API, with the walk-through stack's own token. */
export async function v2AdminBackends(): Promise<AdminBackend[]> {
  const m = /^SWITCHYARD_ADMIN_TOKEN=(.+)$/m.exec(readFileSync(join(V2.dir, '.env'), 'utf8'));
  if (!m) throw new Error(`SWITCHYARD_ADMIN_TOKEN is not in ${V2.dir}/.env: was the stack brought up with make up?`);
  const res = await request(`${v2AdminUrl}/backends`, { headers: { authorization: `Bearer ${m[1]!}` }, headersTimeout: 2000, bodyTimeout: 2000 });
  const body = (await res.body.json()) as { backends: AdminBackend[] };
  return body.backends;
}

export async function v2Routable(): Promise<string[]> {
  return (await v2AdminBackends().catch(() => []))
    .filter((b) => b.routable)
    .map((b) => b.id)
    .sort();
}

import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { decodeBackend } from '../../../common/registry/redis-schema.js';
import type { BackendSpec } from '../../../common/backend.js';
import { sleep, waitFor } from '../../helpers/wait.js';
import { nowMs } from './load.js';

const env = process.env;
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** The e2e stack: its own Compose project, ports and network, so it never touches a developer's `make up`. */
export const E2E = Object.freeze({
  project: env.SWITCHYARD_E2E_PROJECT ?? 'swye2e',
  port: Number(env.SWITCHYARD_E2E_PORT ?? 19090),
  adminPort: Number(env.SWITCHYARD_E2E_ADMIN_PORT ?? 19091),
  tlsPort: Number(env.SWITCHYARD_E2E_TLS_PORT ?? 19443),
  network: env.SWITCHYARD_E2E_NETWORK ?? `${env.SWITCHYARD_E2E_PROJECT ?? 'swye2e'}-net`,
  /** A clean copy of the project (scripts/clean-copy.sh), the directory every make target runs in. */
  dir: env.SWITCHYARD_E2E_DIR ?? join(tmpdir(), `switchyard-e2e-${env.SWITCHYARD_E2E_PROJECT ?? 'swye2e'}`),
  prefix: 'switchyard:',
  /** Its own image tag, so a developer's `make up` and the suite never rebuild each other's containers. */
  image: env.SWITCHYARD_E2E_IMAGE ?? `switchyard:${env.SWITCHYARD_E2E_PROJECT ?? 'swye2e'}`,
});

export const proxyUrl = `http://127.0.0.1:${E2E.port}`;
export const adminUrl = `http://127.0.0.1:${E2E.adminPort}`;
export const docker = new Docker({ socketPath: env.SWITCHYARD_DOCKER_SOCKET ?? '/var/run/docker.sock' });

/** Variables every make target gets: the e2e project, ports and network. */
export function stackEnv(): NodeJS.ProcessEnv {
  return {
    ...env,
    PROJECT: E2E.project,
    COMPOSE_PROJECT_NAME: E2E.project,
    SWITCHYARD_PUBLISH_PORT: String(E2E.port),
    SWITCHYARD_PUBLISH_ADMIN_PORT: String(E2E.adminPort),
    SWITCHYARD_PUBLISH_TLS_PORT: String(E2E.tlsPort),
    SWITCHYARD_NETWORK: E2E.network,
    SWITCHYARD_IMAGE: E2E.image,
  };
}

export interface CommandResult {
  readonly code: number | null;
  readonly output: string;
  readonly ms: number;
}

/** Runs a command to completion with a time limit; output (stdout and stderr) is kept for the assertion message. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  const t0 = nowMs();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd ?? E2E.dir, env: opts.env ?? stackEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 300_000} ms:\n${output}`));
    }, opts.timeoutMs ?? 300_000);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: nowMs() - t0 });
    });
  });
}

/** `make <target> VAR=value...` in the clean copy; throws with the output when it fails. */
export async function make(target: string, vars: Record<string, string | number> = {}, timeoutMs = 600_000): Promise<CommandResult> {
  const r = await run('make', ['--no-print-directory', target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], { timeoutMs });
  if (r.code !== 0) throw new Error(`make ${target} failed (exit ${r.code}):\n${r.output}`);
  return r;
}

/** Makes the clean copy if a test file runs on its own (scripts/e2e.sh makes it for the whole suite). */
export async function ensureCopy(): Promise<void> {
  if (existsSync(join(E2E.dir, 'docker-compose.yml'))) return;
  const r = await run('bash', [join(REPO, 'scripts/clean-copy.sh'), E2E.dir], { cwd: REPO, env });
  if (r.code !== 0) throw new Error(`clean copy failed:\n${r.output}`);
}

/** The stack with `backends` replicas, up and serving (idempotent: `make up` on a running stack only converges it). */
export async function ensureStack(backends = 3): Promise<void> {
  await ensureCopy();
  await make('up', { BACKENDS: backends });
  await waitFor(`${backends} routable backends`, async () => (await routable()).length === backends, 60_000);
}

// --- containers -----------------------------------------------------------------

export async function projectContainers(service?: string, all = true): Promise<Docker.ContainerInfo[]> {
  const label = [`com.docker.compose.project=${E2E.project}`];
  if (service) label.push(`com.docker.compose.service=${service}`);
  return docker.listContainers({ all, filters: { label } });
}

/** Backend replica `n` (Compose's container number, the N of `make stop N=3`). */
export async function replica(n: number, service = 'backend'): Promise<Docker.ContainerInspectInfo> {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${E2E.project}`, `com.docker.compose.service=${service}`, `com.docker.compose.container-number=${n}`] },
  });
  if (!c) throw new Error(`no ${service} replica ${n} in project ${E2E.project}`);
  return docker.getContainer(c.Id).inspect();
}

export function nameOf(c: { Name: string }): string {
  return c.Name.replace(/^\//, '');
}

export function ipOn(c: Docker.ContainerInspectInfo, network = E2E.network): string {
  const ip = c.NetworkSettings.Networks[network]?.IPAddress;
  if (!ip) throw new Error(`${nameOf(c)} has no address on ${network}`);
  return ip;
}

/**
 * What the registry must hold, read from the engine: every running, healthy
 * backend container of the project, as `name url`.
 */
export async function expectedFromDocker(): Promise<string[]> {
  const out: string[] = [];
  for (const info of await projectContainers('backend', false)) {
    const c = await docker.getContainer(info.Id).inspect();
    if (c.State.Status !== 'running' || (c.State.Health && c.State.Health.Status !== 'healthy')) continue;
    out.push(`${nameOf(c)} http://${ipOn(c)}:8081`);
  }
  return out.sort();
}

// --- credentials (made by `make up` in the stack's copy: scripts/stack-secrets.sh) ---

/** One value of the stack's .env (credentials live there, mode 0600). */
export function stackSecret(key: string): string {
  const m = new RegExp(`^${key}=(.+)$`, 'm').exec(readFileSync(join(E2E.dir, '.env'), 'utf8'));
  if (!m) throw new Error(`${key} is not in ${E2E.dir}/.env: was the stack brought up with make up?`);
  return m[1]!;
}

/** `authorization: Bearer <the stack's admin token>`. */
export function adminAuth(): Record<string, string> {
  return { authorization: `Bearer ${stackSecret('SWITCHYARD_ADMIN_TOKEN')}` };
}

// --- registry and balancer --------------------------------------------------------

/** The network Redis is on (the stack's registry network; backends are not on it). */
export function registryNetwork(c: Docker.ContainerInspectInfo): string {
  const names = Object.keys(c.NetworkSettings.Networks);
  if (names.length !== 1) throw new Error(`redis should be on exactly one network, it is on: ${names.join(', ')}`);
  return names[0]!;
}

/**
 * A client to the stack's Redis at its address on the registry network
 * (reachable from a Linux host), as the read-only observer user.
 */
export async function redisClient(): Promise<Redis> {
  const c = await replica(1, 'redis');
  const r = new Redis({
    host: ipOn(c, registryNetwork(c)),
    port: 6379,
    username: 'observer',
    password: stackSecret('REDIS_OBSERVER_PASSWORD'),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
  } catch (err) {
    r.disconnect();
    throw err;
  }
  return r;
}

/** Every registry entry, straight from Redis. */
export async function registryEntries(redis: Redis): Promise<BackendSpec[]> {
  const ids = await redis.smembers(`${E2E.prefix}backends`);
  const out: BackendSpec[] = [];
  for (const id of ids.sort()) {
    const d = decodeBackend(id, await redis.hgetall(`${E2E.prefix}backend:${id}`));
    if (d.ok) out.push(d.value);
  }
  return out;
}

export interface AdminBackend {
  readonly id: string;
  readonly url: string;
  readonly state: string;
  readonly health: string;
  readonly routable: boolean;
  readonly requests: number;
}

export async function adminBackends(): Promise<AdminBackend[]> {
  const res = await request(`${adminUrl}/backends`, { headers: adminAuth(), headersTimeout: 2000, bodyTimeout: 2000 });
  const body = (await res.body.json()) as { backends: AdminBackend[] };
  return body.backends;
}

export async function routable(): Promise<string[]> {
  return (await adminBackends().catch(() => [])).filter((b) => b.routable).map((b) => b.id);
}

// One polling helper for every suite (tests/helpers/wait.ts).
export { sleep, waitFor };

/** `docker <args>` (for actions the Makefile has no target for). */
export function dockerCli(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

// --- output -------------------------------------------------------------------------

/** tests/output of the repository the suite runs from (not of the clean copy): screenshots people look at. */
export const OUTPUT_DIR = join(REPO, 'tests/output');

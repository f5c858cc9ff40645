// Writes the Docker Swarm stack file from docker-compose.yml, so the two never drift:
//   node --import tsx scripts/swarm-stack.ts [--backends N] [--balancers N] [--publish host|ingress] [--autoscale] > .swarm-stack.yml
// `make swarm-up` runs it. What Swarm does not take from the Compose file is moved where
// Swarm reads it (deploy:, configs, tmpfs mounts) or left out and named in `notes`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

type Doc = Record<string, unknown>;
type Service = Record<string, unknown>;

export interface StackOptions {
  readonly backends: number;
  readonly balancers: number;
  /**
   * `host`: the balancer's port is bound on each node that runs a balancer task, and
   * services are found by DNS round robin (no virtual IP). `ingress`: through the routing
   * mesh and virtual IPs, which need the kernel's IPVS (not every host has it).
   */
  readonly publish: 'host' | 'ingress';
  /** The controller scales labelled services, and the socket proxy admits its one write. */
  readonly autoscale?: boolean;
  /** Values for `${VAR:-default}` in published ports. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface StackFile {
  readonly doc: Doc;
  /** What the Compose file asks that Swarm cannot do, one line each (docs/swarm.md explains what compensates). */
  readonly notes: readonly string[];
}

/** Options `docker stack deploy` ignores or refuses; each is moved (below) or only noted. */
const SWARM_IGNORES = ['build', 'scale', 'depends_on', 'restart', 'mem_limit', 'pids_limit', 'group_add', 'security_opt', 'tmpfs', 'labels'];

/** Services that need the engine's manager API: the controller's source and the socket proxy in front of it. */
const ON_MANAGERS = new Set(['controller', 'docker-api']);

export function toStackFile(compose: Doc, opts: StackOptions): StackFile {
  const notes: string[] = [];
  /** Options docker stack deploy leaves out, with the services that set them. */
  const unapplied = new Map<string, string[]>();
  const services: Record<string, Service> = {};
  const configs: Record<string, { file: string }> = {};
  for (const [name, raw] of Object.entries((compose.services ?? {}) as Record<string, Service>)) {
    const s: Service = { ...raw };
    const deploy: Record<string, unknown> = {
      restart_policy: { condition: 'any', delay: '1s' },
    };
    if (raw.mem_limit !== undefined) deploy.resources = { limits: { memory: raw.mem_limit } };
    for (const option of ['security_opt', 'pids_limit'] as const) {
      if (raw[option] !== undefined) unapplied.set(option, [...(unapplied.get(option) ?? []), name]);
    }
    const volumes: unknown[] = [];
    for (const v of (raw.volumes ?? []) as unknown[]) {
      const m = typeof v === 'string' ? /^\.\/([^:]+):([^:]+)(?::ro)?$/.exec(v) : null;
      if (m) {
        // A file of the repository bind-mounted read-only: a Swarm config, present on every node.
        const config = m[1]!.replace(/[^A-Za-z0-9]+/g, '_');
        configs[config] = { file: `./${m[1]}` };
        s.configs = [...((s.configs as unknown[]) ?? []), { source: config, target: m[2] }];
      } else {
        volumes.push(v);
      }
    }
    for (const t of (raw.tmpfs ?? []) as string[]) {
      const [target, options = ''] = t.split(':');
      const size = /size=(\d+)m/.exec(options);
      volumes.push({ type: 'tmpfs', target, ...(size ? { tmpfs: { size: Number(size[1]) * 1024 * 1024 } } : {}) });
    }
    if (volumes.length) s.volumes = volumes;
    else delete s.volumes;
    if (Array.isArray(raw.group_add) && raw.group_add.length) {
      // No supplementary groups for services: the socket's group becomes the primary one of the image's user.
      s.user = `1000:${String(raw.group_add[0])}`;
    }
    if (raw.ports !== undefined) {
      const ports: Record<string, unknown>[] = [];
      for (const p of raw.ports as string[]) {
        if (/^127\.0\.0\.1:/.test(p)) {
          notes.push(`${name}: port ${p} is not published: Swarm cannot bind one host address (reach it with docker exec)`);
          continue;
        }
        const m = /^(.+):(\d+)$/.exec(p);
        if (!m) throw new Error(`${name}: cannot read port '${p}'`);
        ports.push({ target: Number(m[2]), published: published(m[1]!, opts.env), protocol: 'tcp', mode: opts.publish });
      }
      if (ports.length) s.ports = ports;
      else delete s.ports;
    }
    if (opts.publish === 'host') deploy.endpoint_mode = 'dnsrr';
    if (raw.labels !== undefined) deploy.labels = raw.labels;
    if (ON_MANAGERS.has(name)) deploy.placement = { constraints: ['node.role == manager'] };
    if (name === 'backend') {
      deploy.replicas = opts.backends;
      // A new task starts, passes its health check and is registered before the old one is stopped.
      deploy.update_config = { parallelism: 1, order: 'start-first', delay: '2s', failure_action: 'rollback' };
    }
    if (name === 'balancer') deploy.replicas = opts.balancers;
    if (name === 'controller') {
      s.environment = { ...(raw.environment as Record<string, string>), SWITCHYARD_SWARM: 'true' };
      if (opts.autoscale) {
        s.environment = {
          ...(s.environment as Record<string, string>),
          SWITCHYARD_AUTOSCALE: 'true',
          // Read from the deploying shell by docker stack deploy; the programs' defaults otherwise.
          SWITCHYARD_AUTOSCALE_INTERVAL: '${SWITCHYARD_AUTOSCALE_INTERVAL:-15s}',
          SWITCHYARD_AUTOSCALE_DOWN_WINDOW: '${SWITCHYARD_AUTOSCALE_DOWN_WINDOW:-5m}',
        };
      }
    }
    if (name === 'docker-api' && opts.autoscale) {
      s.environment = { ...(raw.environment as Record<string, string>), SWITCHYARD_API_PROXY_ALLOW_REPLICA_UPDATES: 'true' };
    }
    for (const k of SWARM_IGNORES) delete s[k];
    s.deploy = deploy;
    services[name] = s;
  }
  for (const [option, names] of unapplied) notes.push(`${option} is not applied by docker stack deploy (set on ${names.join(', ')})`);
  const networks: Record<string, Record<string, unknown>> = {};
  for (const [name, n] of Object.entries((compose.networks ?? {}) as Record<string, Record<string, unknown> | null>)) {
    // The network clients reach the balancers on (not an internal one) takes `docker run --network` clients too:
    // without IPVS there is no mesh, and such a client finds the balancer tasks by DNS.
    networks[name] = { ...(n ?? {}), driver: 'overlay', ...(n?.internal === true ? {} : { attachable: true }) };
  }
  const doc: Doc = { version: '3.8', services, networks };
  for (const key of ['volumes', 'secrets'] as const) if (compose[key] !== undefined) doc[key] = compose[key];
  if (Object.keys(configs).length) doc.configs = configs;
  return { doc, notes };
}

/** A published port: a number, or `${VAR:-N}` read from `env`. */
function published(text: string, env: StackOptions['env']): number {
  const m = /^\$\{([A-Z0-9_]+):-(\d+)\}$/.exec(text);
  const value = m ? (env[m[1]!] ?? m[2]!) : text;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`published port '${value}' is not a port number`);
  return port;
}

function main(argv: readonly string[]): void {
  const flag = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 0 || n > 100) throw new Error(`--${name} wants a whole number from 0 to 100`);
    return n;
  };
  const root = fileURLToPath(new URL('..', import.meta.url));
  const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as Doc;
  const i = argv.indexOf('--publish');
  const publish = i === -1 ? 'host' : argv[i + 1];
  if (publish !== 'host' && publish !== 'ingress') throw new Error('--publish wants host or ingress');
  const { doc, notes } = toStackFile(compose, {
    backends: flag('backends', 3),
    balancers: flag('balancers', 1),
    publish,
    autoscale: argv.includes('--autoscale'),
    env: process.env,
  });
  for (const n of notes) process.stderr.write(`swarm: ${n}\n`);
  process.stdout.write(`# Generated from docker-compose.yml by scripts/swarm-stack.ts; do not edit.\n${stringify(doc)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));

import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';

/** The Debian packages providing the outside programs the bench runs (h2load drives the HTTP/2 rows, openssl makes the HTTPS rows' certificate). */
export const TOOL_PACKAGES = { nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk', h2load: 'nghttp2-client', openssl: 'openssl' } as const;
export type ToolName = keyof typeof TOOL_PACKAGES;

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Full path of a program on PATH or in the sbin directories (nginx and haproxy live in /usr/sbin), or undefined. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN];
  for (const d of dirs) {
    try {
      accessSync(`${d}/${name}`, constants.X_OK);
      return `${d}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type ToolPaths = Partial<Record<ToolName, string>>;

export interface ToolCheck {
  readonly paths: ToolPaths;
  /** What was missing and why it is still missing (not root, no apt-get, install failed). */
  readonly problems: string[];
  readonly installed: string[];
}

/**
 * Finds nginx, HAProxy, wrk, h2load and openssl; when some are missing and `install` is on,
 * installs them from Debian with apt-get (root only), then stops any service
 * the package started, so the only servers running are the bench's own.
 */
export function ensureTools(install: boolean, log: (line: string) => void): ToolCheck {
  const names = Object.keys(TOOL_PACKAGES) as ToolName[];
  const missing = names.filter((n) => !findProgram(n));
  const problems: string[] = [];
  const installed: string[] = [];
  if (missing.length && install) {
    const isRoot = process.getuid?.() === 0;
    const apt = findProgram('apt-get');
    if (!isRoot || !apt) {
      problems.push(`missing ${missing.join(', ')}; not installing (${!isRoot ? 'not root' : 'no apt-get'}): apt-get install ${missing.map((n) => TOOL_PACKAGES[n]).join(' ')}`);
    } else {
      const pkgs: string[] = missing.map((n) => TOOL_PACKAGES[n]);
      log(`installing ${pkgs.join(' ')} from Debian (apt-get) ...`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = spawnSync(apt, ['update', '-q'], { env, stdio: 'ignore', timeout: 180_000 });
      const inst = spawnSync(apt, ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env, encoding: 'utf8', timeout: 300_000 });
      if (update.status !== 0 || inst.status !== 0) problems.push(`apt-get install ${pkgs.join(' ')} failed: ${(inst.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`);
      else installed.push(...pkgs);
      for (const svc of ['nginx', 'haproxy']) {
        if (pkgs.includes(svc)) spawnSync('service', [svc, 'stop'], { stdio: 'ignore', timeout: 20_000 });
      }
    }
  } else if (missing.length) {
    problems.push(`missing ${missing.join(', ')} (--no-install given)`);
  }
  const paths: ToolPaths = {};
  for (const n of names) {
    const p = findProgram(n);
    if (p) paths[n] = p;
  }
  return { paths, problems, installed };
}

/** First line a program prints for its version, or 'unknown'. */
export function programVersion(path: string, args: readonly string[]): string {
  try {
    const r = spawnSync(path, args, { encoding: 'utf8', timeout: 5000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

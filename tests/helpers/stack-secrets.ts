import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';

/** The Compose stack's credentials as scripts/stack-secrets.sh makes them, in `dir`. */
export interface StackSecrets {
  /** Each Redis role's password (balancer, controller, observer). */
  readonly passwords: Readonly<Record<'balancer' | 'controller' | 'observer', string>>;
  /** The ACL file the stack's Redis loads. */
  readonly aclFile: string;
}

/** Runs a copy of the script in `dir` (it writes .env and .secrets/ beside itself) and reads what it made. */
export function makeStackSecrets(dir: string): StackSecrets {
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  cpSync(join(REPO_ROOT, 'scripts/stack-secrets.sh'), join(dir, 'scripts/stack-secrets.sh'));
  execFileSync('bash', [join(dir, 'scripts/stack-secrets.sh')], { stdio: 'pipe' });
  const env = readFileSync(join(dir, '.env'), 'utf8');
  const read = (key: string): string => new RegExp(`^${key}=(.+)$`, 'm').exec(env)![1]!;
  return {
    passwords: { balancer: read('REDIS_BALANCER_PASSWORD'), controller: read('REDIS_CONTROLLER_PASSWORD'), observer: read('REDIS_OBSERVER_PASSWORD') },
    aclFile: join(dir, '.secrets/redis_users_acl'),
  };
}

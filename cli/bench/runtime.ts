/**
 * How the bench starts its Node children: with the same Node arguments as
 * itself (so under tsx in tests, plain Node from dist/ with `make bench`).
 */

/** `.ts` when running from the sources (tsx), `.js` when running from dist/. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Path of a bench server program, e.g. serverFile('undici-loop'). */
export function serverFile(name: string): string {
  return new URL(`./servers/${name}${EXT}`, import.meta.url).pathname;
}

/** Node arguments that run the switchyard CLI this process was started from, and those for a bare program. */
export function benchCli(): { cliArgs: string[]; nodeArgs: string[] } {
  const nodeArgs = process.execArgv.filter((a) => !a.startsWith('--cpu-prof') && !a.startsWith('--inspect'));
  const entry = process.argv[1] ?? new URL(`../switchyard${EXT}`, import.meta.url).pathname;
  return { cliArgs: [...nodeArgs, entry], nodeArgs };
}

/** 2026-11-22T04:48:25Z -> 20261122-044825 (UTC). */
export function timestamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
}

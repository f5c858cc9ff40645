import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SETUP_NAMES, type SetupName } from '../helpers/stack.js';
import { closeTargets, fuzz, startTargets } from './harness.js';

/**
 * `make fuzz`: the differential request fuzzer, for longer runs than CI's.
 *   --seed N      (default: from the clock, printed)   --cases N (default 2000)
 *   --from N      first case number (to replay one)    --engines raw,undici,undici/http-server
 *   --out FILE    the report as JSON
 * Exits 1 when an invariant broke; each violation names its seed and case.
 */
const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    cases: { type: 'string', default: '2000' },
    from: { type: 'string', default: '0' },
    engines: { type: 'string', default: SETUP_NAMES.join(',') },
    out: { type: 'string' },
  },
});

const int = (name: string, v: string | undefined, fallback: number): number => {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) {
    process.stderr.write(`fuzz: --${name} must be a whole number, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return Number(v);
};
const seed = int('seed', values.seed, Date.now() % 1_000_000);
const cases = int('cases', values.cases, 2000);
const from = int('from', values.from, 0);
const engines = values.engines!.split(',').filter(Boolean) as SetupName[];
for (const e of engines) {
  if (!(SETUP_NAMES as readonly string[]).includes(e)) {
    process.stderr.write(`fuzz: unknown engine '${e}' in --engines (known: ${SETUP_NAMES.join(', ')})\n`);
    process.exit(2);
  }
}

process.stderr.write(`fuzz: seed ${seed}, cases ${from}..${from + cases - 1}, engines ${engines.join(', ')}\n`);
const targets = await startTargets(engines);
let report;
try {
  report = await fuzz(targets, {
    seed,
    from,
    cases,
    onProgress: (n, found) => {
      if ((n - from + 1) % 100 === 0) process.stderr.write(`fuzz: ${n - from + 1}/${cases} cases, ${found} violations\n`);
    },
  });
} finally {
  await closeTargets(targets);
}
for (const v of report.violations)
  process.stdout.write(
    `VIOLATION seed ${v.seed} case ${v.n} [${v.engine}] ${v.rule}\n  mutations: ${v.mutations.join('; ')}\n  bytes: ${JSON.stringify(v.bytes)}\n`,
  );
process.stdout.write(
  `fuzz: ${report.cases} cases x ${report.engines.length} engines in ${(report.ms / 1000).toFixed(1)} s (seed ${seed}): ${report.violations.length} violations\n`,
);
process.stdout.write(`replay one: make fuzz FUZZ_ARGS="--seed ${seed} --from <case> --cases 1"\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.violations.length > 0 ? 1 : 0);

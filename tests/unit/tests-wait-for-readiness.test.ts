import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/*
 * No test sends traffic before the balancer is ready (issue 13). A balancer
 * logs `balancer listening` and accepts connections before it can route
 * (its backends pass their first health checks later), so a test that waits
 * for that line, or for its port to accept, gets a 503 on a slow run.
 *
 * The rule, over every .ts file under tests/ (test files, helpers,
 * e2e/support, fuzz):
 *
 *  1. A wait for a start-up log line (waitForLog / waitForLine /
 *     waitForOutput whose arguments mention "listening" or "healthy": a
 *     backend's first passed check is logged before the proxy listens), a
 *     poll for one (waitFor / waitUntil mentioning "listening"), or port-open
 *     polling (a waitFor / waitUntil that opens a TCP connection, or a helper
 *     named waitForPort, portOpen and the like) is flagged, unless the same
 *     file also waits for readiness: waitReady(, routable(, ensureStack(, a
 *     waitFor / waitUntil polling /readyz, or the demo's `Switchyard demo is
 *     up` banner (cli/demo.ts prints it only once /readyz counts every
 *     backend). A /readyz read once is no wait.
 *  2. A fixed sleep as the first thing awaited after starting a balancer, a
 *     demo or a switchyard child (new SwitchyardProcess(, TestBalancer.start(,
 *     HostileRig.start(, ensureStack(, make('up')) is flagged: wait for the
 *     condition instead.
 *
 * Either is allowed where the line, or the line above it, says why the wait
 * is enough: `// readiness: <why>`. Tests that mean to send traffic before
 * readiness (a 503 with no backend) say so with the same comment.
 */

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly rule: 'listening' | 'sleep';
  readonly text: string;
}

const LOG_WAIT = /\b(?:waitForLog|waitForLine|waitForOutput)\s*\(/g;
const POLL = /\b(?:waitFor|waitUntil)\s*\(/g;
const PORT_POLLER = /\b(?:waitForPort|waitPort|portOpen|isPortOpen|waitListening|waitForListening|waitForConnect)\s*\(/g;
const OPENS_CONNECTION = /\b(?:connect|createConnection)\s*\(/;
const READINESS = /\bwaitReady\s*\(|\broutable\s*\(|\bensureStack\s*\(|Switchyard demo is up/;
const MARKER = /\/\/\s*readiness:\s*\S/;
const START = /\bnew SwitchyardProcess\s*\(|\bTestBalancer\.start\s*\(|\bHostileRig\.start\s*\(|\bensureStack\s*\(|\bmake\s*\(\s*['"]up['"]/g;
const FIXED_SLEEP = /^(?:sleep|delay|setTimeout)\s*\(|^new Promise\s*(?:<[^>]*>)?\s*\(\s*\(?\s*\w*\s*\)?\s*=>\s*setTimeout\s*\(/;

/** Index just past the parenthesis that closes the one at `open` (a plain count, at most 5,000 characters on). */
function closingParen(source: string, open: number): number {
  let depth = 0;
  const end = Math.min(source.length, open + 5000);
  for (let i = open; i < end; i++) {
    if (source[i] === '(') depth++;
    else if (source[i] === ')' && --depth === 0) return i + 1;
  }
  return end;
}

/** The offending waits in one file's source; `file` only names them. */
export function findUnreadyWaits(file: string, source: string): Finding[] {
  const lines = source.split('\n');
  const lineOf = (index: number): number => source.slice(0, index).split('\n').length;
  const marked = (line: number): boolean => MARKER.test(lines[line - 1] ?? '') || MARKER.test(lines[line - 2] ?? '');
  const findings: Finding[] = [];
  const add = (index: number, rule: Finding['rule']): void => {
    const line = lineOf(index);
    if (!marked(line)) findings.push({ file, line, rule, text: (lines[line - 1] ?? '').trim() });
  };

  const argsOf = (m: RegExpExecArray): string => source.slice(m.index + m[0].length, closingParen(source, m.index + m[0].length - 1));
  const waitsForReadiness = READINESS.test(source) || [...source.matchAll(POLL)].some((m) => /\/readyz\b/.test(argsOf(m)));
  if (!waitsForReadiness) {
    for (const m of source.matchAll(LOG_WAIT)) if (/listening|healthy/i.test(argsOf(m))) add(m.index, 'listening');
    for (const m of source.matchAll(POLL)) {
      const args = argsOf(m);
      if (/listening/i.test(args) || OPENS_CONNECTION.test(args)) add(m.index, 'listening');
    }
    for (const m of source.matchAll(PORT_POLLER)) add(m.index, 'listening');
  }

  for (const m of source.matchAll(START)) {
    const after = closingParen(source, m.index + m[0].indexOf('('));
    for (const a of source.slice(after).matchAll(/\bawait\s+/g)) {
      const at = after + a.index;
      const lineStart = source.lastIndexOf('\n', at) + 1;
      if (source.slice(lineStart, at).includes('//')) continue; // in a comment
      if (FIXED_SLEEP.test(source.slice(at + a[0].length))) add(at, 'sleep');
      break;
    }
  }
  return findings.sort((x, y) => x.line - y.line);
}

const TESTS_DIR = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** Every .ts file under tests/ but this one (its examples are the thing it flags) and the output folder. */
function testSources(): string[] {
  return (readdirSync(TESTS_DIR, { recursive: true }) as string[])
    .filter((p) => p.endsWith('.ts') && !p.startsWith(`output/`))
    .map((p) => join(TESTS_DIR, p))
    .filter((p) => p !== SELF)
    .sort();
}

const describeFinding = (f: Finding): string =>
  `${f.file}:${f.line}: ${f.rule === 'listening' ? "waits for a 'listening' line or an open port, not for readiness" : 'a fixed sleep right after starting it'} (wait with waitReady(adminUrl, n), SwitchyardProcess.waitReady or TestBalancer.routable(n), or say why with '// readiness: <why>'): ${f.text}`;

describe('tests wait for readiness, not for listening', () => {
  const cases: { desc: string; source: string; expected: readonly (readonly [number, Finding['rule']])[] }[] = [
    {
      desc: 'raw-read-buffer.test.ts as it was: the listening line, then traffic',
      source: [
        "    lb = new SwitchyardProcess(['balancer', '--engine', 'raw', '--port', String(port), '--admin-port', String(await freePort()), '--backends', list]);",
        "    await lb.waitForLog('balancer listening', 20_000);",
        '  });',
      ].join('\n'),
      expected: [[2, 'listening']],
    },
    {
      desc: 'raw-read-buffer.test.ts as it is: readiness with both backends routable',
      source: [
        "    lb = new SwitchyardProcess(['balancer', '--engine', 'raw', '--port', String(port), '--admin-port', String(adminPort), '--backends', list]);",
        '    await lb.waitReady(`http://127.0.0.1:${adminPort}`, 2, 20_000);',
      ].join('\n'),
      expected: [],
    },
    {
      desc: 'graceful-shutdown.test.ts as it was: the first "backend is healthy" line, which comes before the proxy listens',
      source:
        "const proc = new SwitchyardProcess(['balancer', '--backends', list, '--admin-port', '0']);\nawait proc.waitForLog('backend is healthy', 15_000);",
      expected: [[2, 'listening']],
    },
    {
      desc: 'redis-registry.test.ts as it was: the listening line; the file reads /readyz once, later, which is no wait',
      source:
        "const proc = new SwitchyardProcess(['balancer', '--redis', redisUrl]);\nawait proc.waitForLog('balancer listening');\nconst ready = (await get(`${lb.adminUrl}/readyz`)).status;",
      expected: [[2, 'listening']],
    },
    {
      desc: 'consistent-hash.test.ts as it was: the listening line, then a poll of /readyz for four routable backends',
      source:
        "await proc.waitForLog('balancer listening');\nawait waitFor('four routable backends', async () => {\n  const r = await get(`${lb.adminUrl}/readyz`);\n  return json(r).routableBackends === 4;\n});",
      expected: [],
    },
    {
      desc: 'a listening pattern passed to waitForLine',
      source: "const p = new SwitchyardProcess(['balancer']);\nawait p.waitForLine(/listening/);\nawait get(url);",
      expected: [[2, 'listening']],
    },
    {
      desc: 'a listening line over several lines of arguments',
      source: "await p.waitForLog(\n  'balancer listening',\n  5000,\n);",
      expected: [[1, 'listening']],
    },
    {
      desc: 'polling until the port accepts a connection',
      source: "await waitFor('the proxy port', () => new Promise((ok) => connect(port).once('connect', () => ok(true))));",
      expected: [[1, 'listening']],
    },
    {
      desc: 'a port poller by name',
      source: 'await waitForPort(port);\nawait get(url);',
      expected: [[1, 'listening']],
    },
    {
      desc: 'a backend listening line, with a readiness marker saying why it is enough',
      source: "// readiness: a backend serves once it listens\nawait backend.waitForLog('backend listening');",
      expected: [],
    },
    {
      desc: 'a backend listening line in a file that waits for the balancer with routable(',
      source:
        "await Promise.all(procs.map((p) => p.waitForLog('backend listening')));\nconst lb = await TestBalancer.start({ backends });\nawait lb.routable(3);",
      expected: [],
    },
    {
      desc: 'an empty marker does not count',
      source: "// readiness:\nawait p.waitForLog('balancer listening');",
      expected: [[2, 'listening']],
    },
    {
      desc: 'a fixed sleep right after starting a balancer process',
      source: "const lb = new SwitchyardProcess(['balancer', '--port', String(port)]);\nawait sleep(500);\nconst r = await get(url);",
      expected: [[2, 'sleep']],
    },
    {
      desc: 'a setTimeout promise right after TestBalancer.start, past an await inside its arguments',
      source:
        'const lb = await TestBalancer.start({\n  backends: [await backend()],\n});\ncleanup.push(() => lb.close());\nawait new Promise((r) => setTimeout(r, 300));',
      expected: [[5, 'sleep']],
    },
    {
      desc: 'a sleep after the readiness wait is not a readiness wait',
      source: 'const lb = await TestBalancer.start({ backends });\nawait lb.routable(1);\nawait sleep(50);',
      expected: [],
    },
    {
      desc: 'a marked sleep',
      source: "const p = new SwitchyardProcess(['backend']);\n// readiness: nothing is sent; the sleep only lets the log fill\nawait sleep(200);",
      expected: [],
    },
  ];
  for (const c of cases) {
    it(c.desc, () => {
      assert.deepEqual(
        findUnreadyWaits('case.ts', c.source).map((f) => [f.line, f.rule]),
        c.expected.map((e) => [...e]),
      );
    });
  }

  it('holds for every file under tests/', () => {
    const files = testSources();
    const names = files.map((f) => relative(TESTS_DIR, f));
    assert.ok(
      names.includes('integration/raw-read-buffer.test.ts') && names.includes('helpers/processes.ts') && names.includes('e2e/support/stack.ts'),
      'the walk finds test files, helpers and e2e support',
    );
    const findings = files.flatMap((f) => findUnreadyWaits(`tests/${relative(TESTS_DIR, f)}`, readFileSync(f, 'utf8')));
    assert.deepEqual(findings.map(describeFinding), []);
  });
});

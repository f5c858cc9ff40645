// Writes the options table of docs/strategies.md from the balancer's option table:
// `npx tsx scripts/strategy-docs.ts`. tests/unit/strategies-docs.test.ts fails when it is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BALANCER_OPTIONS } from '../balancer/config.js';
import { renderOptionsMarkdown } from '../common/config/markdown.js';
import type { OptionTable } from '../common/config/options.js';

export const STRATEGY_GROUPS = ['Strategy options', 'Resilience', 'Admission control'] as const;
const START = '<!-- options:start -->';
const END = '<!-- options:end -->';

export function strategyOptionsBlock(): string {
  const parts = STRATEGY_GROUPS.map((group) => {
    const table: Record<string, OptionTable[string]> = {};
    for (const [k, def] of Object.entries(BALANCER_OPTIONS)) if (def.group === group || (group === 'Strategy options' && k === 'strategy')) table[k] = def;
    return renderOptionsMarkdown(group, 'switchyard balancer', table).replace(/^## /, '### ').replace('`switchyard balancer`\n\n', '');
  });
  return `${START}\n${parts.join('\n')}${END}`;
}

export function withOptionsBlock(doc: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < 0) throw new Error('docs/strategies.md has no options markers');
  return doc.slice(0, a) + strategyOptionsBlock() + doc.slice(b + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = new URL('../docs/strategies.md', import.meta.url);
  writeFileSync(url, withOptionsBlock(readFileSync(url, 'utf8')));
  console.log('wrote the options table of docs/strategies.md');
}

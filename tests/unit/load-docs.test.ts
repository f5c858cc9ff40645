import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { LOAD_OPTIONS } from '../../cli/load/options.js';
import { refreshLoadToolDoc } from '../../scripts/bench-docs.js';

const doc = readFileSync(new URL('../../docs/load-tool.md', import.meta.url), 'utf8');

it('docs/load-tool.md shows the current JSON Schema of the report (run: npx tsx scripts/bench-docs.ts)', () => {
  assert.equal(doc, refreshLoadToolDoc(doc));
});

it('docs/load-tool.md mentions every option of switchyard load', () => {
  for (const def of Object.values(LOAD_OPTIONS)) assert.ok(doc.includes(`--${def.flag}`), `--${def.flag} is not documented`);
});

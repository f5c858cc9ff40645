import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { configurationMarkdown } from '../../scripts/config-docs.js';

it('docs/configuration.md matches the option tables (run: npx tsx scripts/config-docs.ts)', () => {
  const onDisk = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(onDisk, configurationMarkdown());
});

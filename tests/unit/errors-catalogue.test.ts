import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ERROR_CATALOGUE } from '../../common/errors.js';

it('documents every error code with its status in docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) is in docs/errors.md`);
  }
  const documented = [...doc.matchAll(/^\| `(SWY_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), Object.keys(ERROR_CATALOGUE).sort(), 'and documents no code that does not exist');
});

it('maps every code to a 4xx or 5xx status', () => {
  for (const { status } of Object.values(ERROR_CATALOGUE)) assert.ok(status >= 400 && status < 600);
});

// Refreshes the generated block of docs/load-tool.md (the JSON Schema of `switchyard load --json`):
// `npx tsx scripts/bench-docs.ts`. tests/unit/load-docs.test.ts fails when the block is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadReportJsonSchema } from '../cli/load/report.js';

export const SCHEMA_BEGIN = '<!-- BEGIN generated: JSON Schema of the report (scripts/bench-docs.ts) -->';
export const SCHEMA_END = '<!-- END generated -->';

export function schemaBlock(): string {
  return [SCHEMA_BEGIN, '```json', JSON.stringify(loadReportJsonSchema(), null, 2), '```', SCHEMA_END].join('\n');
}

/** The document with its generated block replaced by the current one. */
export function refreshLoadToolDoc(doc: string): string {
  const start = doc.indexOf(SCHEMA_BEGIN);
  const end = doc.indexOf(SCHEMA_END);
  if (start === -1 || end === -1 || end < start) throw new Error('docs/load-tool.md lacks the generated-block markers');
  return doc.slice(0, start) + schemaBlock() + doc.slice(end + SCHEMA_END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = new URL('../docs/load-tool.md', import.meta.url);
  writeFileSync(url, refreshLoadToolDoc(readFileSync(url, 'utf8')));
  console.log('refreshed the JSON Schema in docs/load-tool.md');
}

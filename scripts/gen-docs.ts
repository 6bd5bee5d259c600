// Regenerates the tables of docs/configuration.md and docs/errors.md from the code that defines
// them (src/config.ts SETTINGS, src/core/errors.ts ERROR_REGISTRY and RETIRED_ERROR_CODES).
// `npm run docs` writes them; test/docs checks they are in step.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../src/config.js';
import { ERROR_REGISTRY, RETIRED_ERROR_CODES } from '../src/core/errors.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function show(value: string | number | boolean | string[] | null): string {
  if (value === null) return '—';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(', ');
  return `\`${value}\``;
}

export function settingsTable(): string {
  const rows = Object.values(SETTINGS).map((s) => {
    const env = 'env' in s && s.env ? `\`${s.env}\`` : '—';
    return `| \`${s.key}\` | ${env} | ${show(s.default)} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| config.json key | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function errorsTable(): string {
  const rows = Object.entries(ERROR_REGISTRY).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.message} |`);
  return ['| code | status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function retiredList(): string {
  return Object.entries(RETIRED_ERROR_CODES)
    .map(([code, why]) => `- \`${code}\`: ${why}`)
    .join('\n');
}

export function fill(text: string, name: string, table: string): string {
  const pattern = new RegExp(`(<!-- ${name}:start[^>]*-->)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!pattern.test(text)) throw new Error(`markers for ${name} not found`);
  return text.replace(pattern, (_m, start: string, end: string) => `${start}\n${table}\n${end}`);
}

export const DOCS = [
  { file: 'docs/configuration.md', name: 'settings', table: settingsTable },
  { file: 'docs/errors.md', name: 'errors', table: errorsTable },
  { file: 'docs/errors.md', name: 'retired', table: retiredList },
] as const;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const doc of DOCS) {
    const path = root + doc.file;
    writeFileSync(path, fill(readFileSync(path, 'utf8'), doc.name, doc.table()));
    console.log(`wrote the ${doc.name} of ${doc.file}`);
  }
}

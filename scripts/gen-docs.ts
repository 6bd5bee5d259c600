// Regenerates the tables of docs/configuration.md and docs/errors.md from the code that defines
// them (src/config.ts SETTINGS, src/core/errors.ts ERROR_REGISTRY and RETIRED_ERROR_CODES), and
// docs/openapi.json from the routes (src/api/openapi.ts), and the client's types from that document
// (scripts/gen-client-types.ts). `npm run docs` writes them; test/docs checks they are in step.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/api/app.js';
import { SETTINGS, loadConfig } from '../src/config.js';
import { ERROR_REGISTRY, RETIRED_ERROR_CODES } from '../src/core/errors.js';
import { createRequestCipher } from '../src/core/sealed-request.js';
import { createTargetPolicy } from '../src/core/target-policy.js';
import { createLogger } from '../src/logger.js';
import { ServiceMetrics } from '../src/observe/metrics.js';
import { CLIENT_TYPES_FILE, type OpenApiDocument, clientTypes } from './gen-client-types.js';
import { appDeps } from '../src/server.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

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

/**
 * The OpenAPI document as the server answers it at /v1beta/openapi.json, formatted for the
 * committed copy. Built from the defaults alone (a folder with no config.json, nothing from the
 * environment), so a local configuration never changes it; the app is built, never listening.
 */
export async function openApiJson(): Promise<string> {
  const cwd = mkdtempSync(join(tmpdir(), 'kuueri-docs-'));
  const store = new SqliteStore({ path: ':memory:' });
  try {
    const config = loadConfig({}, cwd);
    const parts = {
      store,
      cipher: createRequestCipher(Buffer.alloc(32)),
      clock: store.clock,
      policy: createTargetPolicy(config.allowList, config.denyList),
      logger: createLogger('silent'),
      metrics: new ServiceMetrics(),
      signer: { forget: () => undefined },
      circuits: { forget: () => undefined },
    };
    const app = await buildApp(appDeps(config, parts));
    await app.ready();
    const text = `${JSON.stringify(app.swagger(), null, 2)}\n`;
    await app.close();
    return text;
  } finally {
    await store.close();
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** The typed client's types, from the OpenAPI document as openApiJson makes it. */
async function clientTypesText(): Promise<string> {
  return clientTypes(JSON.parse(await openApiJson()) as OpenApiDocument);
}

/** Files generated whole. */
export const GENERATED_FILES = [
  { file: 'docs/openapi.json', text: openApiJson },
  { file: CLIENT_TYPES_FILE, text: clientTypesText },
] as const;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const doc of DOCS) {
    const path = root + doc.file;
    writeFileSync(path, fill(readFileSync(path, 'utf8'), doc.name, doc.table()));
    console.log(`wrote the ${doc.name} of ${doc.file}`);
  }
  for (const generated of GENERATED_FILES) {
    writeFileSync(root + generated.file, await generated.text());
    console.log(`wrote ${generated.file}`);
  }
}

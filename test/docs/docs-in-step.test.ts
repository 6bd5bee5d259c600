import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOCS, GENERATED_FILES, fill } from '../../scripts/gen-docs.js';
import { ROUTE_DOCS } from '../../src/api/openapi.js';
import { ERROR_REGISTRY, RETIRED_ERROR_CODES } from '../../src/core/errors.js';
import { SETTINGS } from '../../src/config.js';
import { headingAnchors, relativeLinks } from '../helpers/markdown-links.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(root + file, 'utf8');

/** The pages of the API reference, docs/api/*.md, as paths from the root. */
const apiPages = (): string[] =>
  readdirSync(join(root, 'docs/api'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/api/${f}`);

/** Folders that hold no docs of the project's own: dependencies, builds, tools' state. */
const NOT_DOCS = new Set(['node_modules', 'dist', 'coverage']);

/** Every Markdown file of the project (README.md, docs/**, the packages'), as paths from the root. */
function markdownFiles(dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true })
    .filter((entry) => !entry.name.startsWith('.') && !NOT_DOCS.has(entry.name))
    .flatMap((entry) => {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) return markdownFiles(path);
      return entry.name.endsWith('.md') ? [path] : [];
    })
    .sort();
}

/**
 * Where each code is raised in src: the quoted codes in the first argument of every
 * `new AppError(` (a literal, or a choice between literals such as `cond ? 'A' : 'B'`).
 */
function raisedCodes(): Map<string, string[]> {
  const raised = new Map<string, string[]>();
  const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .sort();
  for (const file of files) {
    const text = readFileSync(join(root, 'src', file), 'utf8');
    for (const site of text.matchAll(/new AppError\(\s*([^,)]*)/g)) {
      for (const literal of site[1]!.matchAll(/'([A-Z][A-Z0-9_]*)'/g)) {
        raised.set(literal[1]!, [...(raised.get(literal[1]!) ?? []), `src/${file}`]);
      }
    }
  }
  return raised;
}

describe('docs stay in step with the code', () => {
  for (const doc of DOCS) {
    test(`${doc.file} holds the generated ${doc.name} table (run npm run docs)`, () => {
      const text = read(doc.file);
      assert.equal(fill(text, doc.name, doc.table()), text);
    });
  }

  for (const generated of GENERATED_FILES) {
    test(`${generated.file} is as the code generates it (run npm run docs)`, async () => {
      assert.equal(read(generated.file), await generated.text());
    });
  }

  test('every setting and environment variable is documented', () => {
    const text = read('docs/configuration.md');
    for (const s of Object.values(SETTINGS)) {
      assert.ok(text.includes(`\`${s.key}\``), s.key);
      if ('env' in s && s.env) assert.ok(text.includes(`\`${s.env}\``), s.env);
    }
  });

  test('every error code is documented, and the docs name no code the registry lacks', () => {
    const text = read('docs/errors.md');
    const documented = new Set([...text.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
    assert.deepEqual([...documented].sort(), Object.keys(ERROR_REGISTRY).sort());
  });

  test('every code in the registry is raised somewhere in src', () => {
    const raised = raisedCodes();
    const never = Object.keys(ERROR_REGISTRY).filter((code) => !raised.has(code));
    assert.deepEqual(never, [], 'documented codes never raised: raise them, or retire them (RETIRED_ERROR_CODES)');
  });

  test('every code raised in src is in the registry, and none is retired', () => {
    const unknown = [...raisedCodes()].filter(([code]) => !Object.hasOwn(ERROR_REGISTRY, code));
    assert.deepEqual(unknown, [], 'codes raised but not in ERROR_REGISTRY (with where)');
  });

  test('retired codes are documented as such and gone from the registry', () => {
    const text = read('docs/errors.md');
    for (const code of Object.keys(RETIRED_ERROR_CODES)) {
      assert.ok(!Object.hasOwn(ERROR_REGISTRY, code), `${code} is retired: it may not be in the registry`);
      assert.match(text, new RegExp(`^- \`${code}\`: `, 'm'), code);
    }
  });

  test('docs/api/ names each code with its status, on every page', () => {
    const pages = apiPages();
    assert.ok(pages.length > 1, 'docs/api/ holds the API reference in pages');
    const named = pages.flatMap((page) =>
      [...read(page).matchAll(/`(\d{3})\s+([A-Z][A-Z0-9_]+)`/g)].map((m) => [page, m[2]!, Number(m[1])] as const),
    );
    assert.ok(named.length > 0);
    for (const [page, code, status] of named) {
      assert.ok(Object.hasOwn(ERROR_REGISTRY, code), `${page} names ${code}, which is not in the registry`);
      assert.equal(ERROR_REGISTRY[code as keyof typeof ERROR_REGISTRY].status, status, `${page} gives ${code} status ${status}`);
    }
  });

  test("docs/api/README.md's route table has a row, linked to its section, for every documented route", () => {
    const rows = new Set([...read('docs/api/README.md').matchAll(/^\| \[`([A-Z]+ \/[^`]*)`\]\([^)]+\) \|/gm)].map((m) => m[1]!));
    // A route of several methods (the inbox's) is one row, `ANY <path>`.
    const missing = Object.keys(ROUTE_DOCS).filter((route) => !rows.has(route) && !rows.has(route.replace(/^[A-Z]+ /, 'ANY ')));
    assert.deepEqual(missing, [], 'routes with no linked row in the table of docs/api/README.md');
  });

  test('every relative link in the Markdown docs reaches a file, and a heading of it when it names one', () => {
    const files = markdownFiles();
    assert.ok(files.includes('README.md') && files.includes('docs/api/README.md'), files.join(', '));
    const broken: string[] = [];
    for (const file of files) {
      for (const { target, line } of relativeLinks(read(file))) {
        const [path = '', anchor] = target.split('#', 2);
        const reached = path === '' ? file : join(dirname(file), decodeURIComponent(path));
        const where = `${file}:${line} → ${target}`;
        if (!existsSync(join(root, reached))) broken.push(`${where}: no such file`);
        else if (anchor !== undefined && reached.endsWith('.md') && !headingAnchors(read(reached)).has(decodeURIComponent(anchor))) {
          broken.push(`${where}: ${reached} has no heading with that anchor`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  test('the link check reads anchors and links as GitHub does', () => {
    const page = [
      '# API — v1beta',
      '## Circuit breakers: `/v1beta/breakers`',
      '## Notes',
      '## Notes',
      '```',
      '# not a heading',
      '```',
    ].join('\n');
    assert.deepEqual([...headingAnchors(page)], ['api--v1beta', 'circuit-breakers-v1betabreakers', 'notes', 'notes-1']);
    const text = 'See [a](a.md#x), [the\nb](../b.md), ![c](c.png "C"), [web](https://example.com), `[d](d.md)`.\n```\n[e](e.md)\n```';
    assert.deepEqual(relativeLinks(text), [
      { target: 'a.md#x', line: 1 },
      { target: '../b.md', line: 2 },
      { target: 'c.png', line: 2 },
    ]);
  });

  test('the README gives the two commands, and .ci/run calls the test command', () => {
    const readme = read('README.md');
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /^npm test$/m);
    assert.match(read('.ci/run'), /^npm test$/m);
  });
});

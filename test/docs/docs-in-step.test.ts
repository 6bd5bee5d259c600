import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOCS, fill } from '../../scripts/gen-docs.js';
import { ERROR_REGISTRY } from '../../src/core/errors.js';
import { SETTINGS } from '../../src/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(root + file, 'utf8');

describe('docs stay in step with the code', () => {
  for (const doc of DOCS) {
    test(`${doc.file} holds the generated ${doc.name} table (run npm run docs)`, () => {
      const text = read(doc.file);
      assert.equal(fill(text, doc.name, doc.table()), text);
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

  test('the README gives the two commands, and .ci/run calls the test command', () => {
    const readme = read('README.md');
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /^npm test$/m);
    assert.match(read('.ci/run'), /^npm test$/m);
  });
});

// Runs every test file (test/**/*.test.ts) with node's test runner, in parallel processes, and ends
// with one line CI can read: "N passed, N failed". Arguments narrow the run to files or folders:
//   node scripts/run-tests.mjs test/unit test/http/subscribe.test.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test']).flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'kuueri-tests-'));
const counts = join(dir, 'counts.json');
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    `--test-concurrency=${Math.max(2, availableParallelism())}`,
    '--test-timeout=120000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/count-reporter.mjs', `--test-reporter-destination=${counts}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, KUUERI_TEST: '1' } },
);

let summary = { passed: 0, failed: 0, failures: [] };
try {
  summary = JSON.parse(readFileSync(counts, 'utf8'));
} catch {
  summary.failed = Math.max(1, summary.failed);
}
rmSync(dir, { recursive: true, force: true });
const failed = summary.failed + (result.status !== 0 && summary.failed === 0 ? 1 : 0);
if (summary.failures.length > 0) console.log(`\nFailed:\n${summary.failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`\n${summary.passed} passed, ${failed} failed`);
process.exit(result.status === 0 && failed === 0 ? 0 : 1);

// Runs every test file (test/**/*.test.ts) with node's test runner, in parallel processes, then the
// HTTP contract suite (test/http) a second time on the Redis store, and ends with one line CI can
// read: "N passed, N failed". Arguments narrow the run to files or folders:
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

/**
 * One run of node's test runner over `testFiles`; answers its exit status and counts.
 * Files run in parallel processes, as many as the machine has cores (at least two).
 */
function run(testFiles, extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'kuueri-tests-'));
  const counts = join(dir, 'counts.json');
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${Math.max(2, availableParallelism())}`,
      '--test-timeout=180000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=./scripts/count-reporter.mjs',
      `--test-reporter-destination=${counts}`,
      ...testFiles,
    ],
    { stdio: 'inherit', env: { ...process.env, KUUERI_TEST: '1', ...extraEnv } },
  );
  let summary = { passed: 0, failed: 0, failures: [], todos: [] };
  try {
    summary = JSON.parse(readFileSync(counts, 'utf8'));
  } catch {
    summary.failed = Math.max(1, summary.failed);
  }
  rmSync(dir, { recursive: true, force: true });
  if (result.status !== 0 && summary.failed === 0) summary.failed = 1;
  return { ok: result.status === 0 && summary.failed === 0, ...summary };
}

const runs = [run(files, {})];
// The v1beta contract again, on Redis: the HTTP suite unchanged, each server on its own redis-server.
const httpFiles = files.filter((f) => f.split(/[\\/]/).includes('http'));
if (httpFiles.length > 0 && process.env.KUUERI_SKIP_REDIS_PASS !== '1') {
  console.log('\n── The HTTP contract suite again, on the Redis store ──\n');
  runs.push(run(httpFiles, { KUUERI_TEST_STORE: 'redis' }));
}

const passed = runs.reduce((n, r) => n + r.passed, 0);
const failed = runs.reduce((n, r) => n + r.failed, 0);
const failures = runs.flatMap((r, i) => r.failures.map((f) => (i === 1 ? `[redis] ${f}` : f)));
const todos = runs.flatMap((r, i) => (r.todos ?? []).map((f) => (i === 1 ? `[redis] ${f}` : f)));
if (todos.length > 0) console.log(`\nKnown gaps (TODO, not counted):\n${todos.map((f) => `  ${f}`).join('\n')}`);
if (failures.length > 0) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(runs.every((r) => r.ok) ? 0 : 1);

// A node:test reporter that counts finished tests (suites are not tests) and writes
// {"passed": N, "failed": N, "failures": [...], "todos": [...]} for scripts/run-tests.mjs to print as the closing line.
export default async function* countReporter(source) {
  let passed = 0;
  let failed = 0;
  const failures = [];
  const todos = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue;
    // A TODO states a known gap: shown, not counted as passed or failed (node's runner does the same).
    if (event.data.todo !== undefined && event.data.todo !== false) todos.push(`${event.data.file ?? ''} › ${event.data.name}`);
    else if (event.type === 'test:pass') passed++;
    else {
      failed++;
      failures.push(`${event.data.file ?? ''} › ${event.data.name}`);
    }
  }
  yield JSON.stringify({ passed, failed, failures, todos });
}

// A node:test reporter that counts finished tests (suites are not tests) and writes
// {"passed": N, "failed": N, "failures": [...]} for scripts/run-tests.mjs to print as the closing line.
export default async function* countReporter(source) {
  let passed = 0;
  let failed = 0;
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue;
    if (event.type === 'test:pass') passed++;
    else {
      failed++;
      failures.push(`${event.data.file ?? ''} › ${event.data.name}`);
    }
  }
  yield JSON.stringify({ passed, failed, failures });
}

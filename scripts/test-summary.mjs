// Prints one closing line, "tests: N passed, N failed", from vitest's JSON reports (one per
// vitest run of `make test`), so that any CI can read the result without knowing vitest's format.
import { existsSync, readFileSync } from 'node:fs';

const totals = { passed: 0, failed: 0, skipped: 0 };
for (const file of process.argv.slice(2)) {
  // A run that could not start (its global setup failed) writes no report: count it as a failure.
  if (!existsSync(file)) {
    totals.failed += 1;
    console.log(`no test report in ${file}: that run failed before its tests`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
}
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);

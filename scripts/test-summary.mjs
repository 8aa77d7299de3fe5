// Closes `make test` with what a CI log's last lines must say: every failed test by name with the
// start of its error, then one line "tests: N passed, N failed". CI systems often keep only the
// tail of a log, and vitest prints its failures far above it. Reads vitest's JSON reports (one
// per vitest run of `make test`), so any CI can read the result without knowing vitest's format.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const MESSAGE_LINES = 10;

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function firstLines(text) {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(0, MESSAGE_LINES)
    .map((line) => `      ${line}`)
    .join('\n');
}

for (const file of process.argv.slice(2)) {
  // A run that could not start (its global setup failed) writes no report: count it as a failure.
  if (!existsSync(file)) {
    totals.failed += 1;
    failures.push(`  ${file}: no report; that run failed before its tests`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
  for (const testFile of report.testResults) {
    const path = relative(process.cwd(), testFile.name);
    const failedTests = testFile.assertionResults.filter((test) => test.status === 'failed');
    for (const test of failedTests) {
      // The duration tells a timeout apart: vitest reports one as a bare "STACK_TRACE_ERROR".
      const took = test.duration === undefined ? '' : ` (${Math.round(test.duration / 1000)} s)`;
      failures.push(`  ✗ ${path} › ${test.fullName}${took}\n${firstLines(test.failureMessages.join('\n'))}`);
    }
    // A file can fail outside its tests (an import error, a failing beforeAll/afterAll hook).
    if (testFile.status === 'failed' && failedTests.length === 0) {
      failures.push(`  ✗ ${path} (outside its tests)\n${firstLines(testFile.message ?? '')}`);
    }
  }
}

if (failures.length > 0) console.log(`failed:\n${failures.join('\n')}`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);

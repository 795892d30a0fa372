// Adds up the JSON reports vitest wrote for each package and prints one closing line,
// "N passed, N failed", so that CI reads a single total. Each failed test is named with the
// first line of its error, so that a log kept only in part still says what broke. Exits 1 when
// a test failed or a package that has tests wrote no report.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const roots = ['packages', 'apps']
  .flatMap((d) => (existsSync(d) ? readdirSync(d).map((p) => join(d, p)) : []))
  .concat(['test']);
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
const failures = [];
for (const dir of roots) {
  if (!existsSync(join(dir, 'vitest.config.ts'))) continue;
  const file = join(dir, '.vitest-report.json');
  if (!existsSync(file)) {
    missing.push(dir);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(`${dir}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
  for (const file of report.testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      if (test.status !== 'failed') continue;
      const firstLine = String(test.failureMessages?.[0] ?? '').split('\n')[0];
      failures.push(`  ${relative('.', file.name)} > ${test.fullName}\n    ${firstLine}`);
    }
  }
}
if (failures.length > 0) console.log(`failed tests:\n${failures.join('\n')}`);
for (const dir of missing) console.log(`${dir}: no test report (its test run did not finish)`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || missing.length > 0 ? 1 : 0);

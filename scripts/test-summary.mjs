// Adds up the JSON reports vitest wrote for each package and prints one closing line,
// "N passed, N failed", so that CI reads a single total. Exits 1 when a test failed or a
// package that has tests wrote no report.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'apps']
  .flatMap((d) => (existsSync(d) ? readdirSync(d).map((p) => join(d, p)) : []))
  .concat(['test']);
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
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
}
for (const dir of missing) console.log(`${dir}: no test report (its test run did not finish)`);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || missing.length > 0 ? 1 : 0);

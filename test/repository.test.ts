import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers.js';

describe('the repository a user clones', () => {
  it("ignores both files of the README's quick start: the public key and the unencrypted private key", () => {
    const ignored = spawnSync('git', ['check-ignore', 'demo.pub.json', 'demo.json'], { cwd: REPO, encoding: 'utf8' });
    expect(ignored.status, ignored.stderr).toBe(0);
    expect(ignored.stdout.trim().split('\n').sort()).toEqual(['demo.json', 'demo.pub.json']);
  });

  it("calls generateKeyPairSync only where the keygen writes the JWKs itself: test-kit's newKeyPair, the software backend (an export afterwards can hang Node 20)", () => {
    // Its name as code (called, imported, cast), not in a comment or a sentence.
    const code = '^(?!\\s*(//|\\*)).*\\bgenerateKeyPairSync\\s*(\\(|,|\\}|as\\b)';
    const found = spawnSync(
      'git',
      ['grep', '--untracked', '-lP', code, '--', '*.ts', '*.mjs', '*.cjs', ':!test/repository.test.ts'],
      {
        cwd: REPO,
        encoding: 'utf8',
      },
    );
    expect(found.stdout.trim().split('\n').sort()).toEqual([
      // The bench's floor: one key per process, as bare as a durable create can be.
      'bench/fixtures/minimal-create.cjs',
      // The software backend's keygen on the calling thread: it writes the JWKs itself.
      'packages/backend-software/src/software-backend.ts',
      'packages/test-kit/src/keys.ts',
    ]);
  });
});

describe('the closing summary of the test run (scripts/test-summary.mjs)', () => {
  function summarize(reports: Record<string, object>) {
    const dir = tempDir();
    for (const [pkg, report] of Object.entries(reports)) {
      mkdirSync(join(dir, pkg), { recursive: true });
      writeFileSync(join(dir, pkg, 'vitest.config.ts'), '');
      writeFileSync(join(dir, pkg, '.vitest-report.json'), JSON.stringify(report));
    }
    return spawnSync(process.execPath, [join(REPO, 'scripts/test-summary.mjs')], { cwd: dir, encoding: 'utf8' });
  }
  const counts = { numPendingTests: 0, numTodoTests: 0 };

  it('names each failed test with the first line of its error, and exits 1', () => {
    const result = summarize({
      'packages/a': {
        ...counts,
        numPassedTests: 1,
        numFailedTests: 1,
        testResults: [
          {
            name: 'test/x.test.ts',
            assertionResults: [
              { status: 'passed', fullName: 'works' },
              { status: 'failed', fullName: 'races', failureMessages: ['Error: token busy\n    at stack'] },
            ],
          },
        ],
      },
      'apps/b': { ...counts, numPassedTests: 2, numFailedTests: 0, testResults: [] },
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('failed tests:\n  test/x.test.ts > races\n    Error: token busy\n');
    expect(result.stdout).not.toContain('at stack');
    expect(result.stdout).not.toContain('> works');
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('3 passed, 1 failed');
  });

  it('exits 0 with no failed-test list when all pass, and 1 when a package wrote no report', () => {
    const passing = summarize({ 'packages/a': { ...counts, numPassedTests: 4, numFailedTests: 0, testResults: [] } });
    expect(passing.status).toBe(0);
    expect(passing.stdout).not.toContain('failed tests');
    const dir = tempDir();
    mkdirSync(join(dir, 'packages/c'), { recursive: true });
    writeFileSync(join(dir, 'packages/c/vitest.config.ts'), '');
    const missing = spawnSync(process.execPath, [join(REPO, 'scripts/test-summary.mjs')], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain('packages/c: no test report');
  });
});

import { defineConfig, type ViteUserConfig } from 'vitest/config';

type TestOptions = NonNullable<ViteUserConfig['test']>;

/**
 * The vitest settings every keymint package shares: tests under test/, generous timeouts (keys
 * are made on real tokens), and a JSON report that scripts/test-summary.mjs adds up.
 */
export function keymintTestConfig(test: TestOptions = {}): ViteUserConfig {
  return defineConfig({
    test: {
      reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      ...test,
    },
  });
}

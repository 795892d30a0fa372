import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
    include: ['test/**/*.test.ts'],
    // A SoftHSM2 token store and a software TPM, made for the run and removed after it: nothing is skipped.
    globalSetup: ['test/setup/softhsm.global.ts', 'test/setup/tpm.global.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

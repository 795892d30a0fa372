import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `pnpm run keygen-times`: times key generation on a SoftHSM2 token and on the software TPM,
// with the same throwaway token store and TPM stack as the tests.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['scripts/keygen-times.run.ts'],
    globalSetup: ['test/setup/softhsm.global.ts', 'test/setup/tpm.global.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
  },
});

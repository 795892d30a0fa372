import { keymintTestConfig } from '../vitest.shared.js';

export default keymintTestConfig({
  include: ['**/*.test.ts'],
  exclude: ['node_modules/**'],
  testTimeout: 120_000,
  hookTimeout: 300_000,
});

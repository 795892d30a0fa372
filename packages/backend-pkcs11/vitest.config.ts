import { keymintTestConfig } from '../../vitest.shared.js';

export default keymintTestConfig({
  // A SoftHSM2 token store and a software TPM, made for the run and removed after it: nothing is skipped.
  globalSetup: ['test/setup/softhsm.global.ts', 'test/setup/tpm.global.ts'],
});

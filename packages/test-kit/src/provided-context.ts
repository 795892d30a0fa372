import type { KeyringEnv } from './keyring.js';
import type { SoftHsmStore } from './softhsm.js';
import type { SoftwareTpm } from './software-tpm.js';

// What the kit's global setups hand to test files (project.provide, inject): plain data only.
declare module 'vitest' {
  export interface ProvidedContext {
    softhsm: SoftHsmStore;
    tpm: SoftwareTpm;
    keyring: KeyringEnv;
  }
}

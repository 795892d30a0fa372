/**
 * @keymint/test-kit: what keymint's package tests, end-to-end tests and benchmarks share. The
 * harnesses start real parts (SoftHSM2, a software TPM, a D-Bus session with GNOME Keyring) in
 * temp dirs; the assertion helpers check keymint's error contract. `./softhsm`, `./tools`, `./keys`
 * and `./global-setup` load no vitest, for the bench and for vitest global setups.
 */
export * from './assert.js';
export * from './canary-module.js';
export * from './der.js';
export * from './jwe.js';
export * from './keyring.js';
export * from './keys.js';
export * from './locks.js';
export * from './p11-kit-server.js';
export * from './provided.js';
export * from './python.js';
export * from './softhsm.js';
export * from './software-tpm.js';
export * from './tools.js';

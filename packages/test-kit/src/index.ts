/**
 * @keymint/test-kit: what keymint's package tests, end-to-end tests and benchmarks share. The
 * harnesses start real parts (SoftHSM2, a software TPM, a D-Bus session with GNOME Keyring) in
 * temp dirs; the assertion helpers check keymint's error contract. `./softhsm`, `./tools` and
 * `./global-setup` load no vitest, for the bench and for vitest global setups.
 */
export { expectOk, rejection, thrown, type ExitedRun, type KeymintErrorLike } from './assert.js';
export { buildCanaryModule, type CanaryModule } from './canary-module.js';
export { der, derNull, elementAt, integer, octets, oid, opensshRoundsOffset, pemBody, replaceAt, seq, toPem } from './der.js';
export { MAKE_PBES2_JWE, PYTHON, decryptWithPython, pythonPbes2Jwe, withP2c, type Pbes2JweOptions } from './jwe.js';
export { KEYRING_PASSWORD, startBareBus, startKeyringSession, stopChild, uniqueService, type KeyringEnv, type KeyringSession } from './keyring.js';
export { deadPid, lockFor, processStartTime } from './locks.js';
export { useKeyring, useSoftHsm, useSoftwareTpm } from './provided.js';
export { SOFTHSM_MODULE, softHsm, softHsmStore, startSoftHsm, type SoftHsm, type SoftHsmOptions, type SoftHsmStore } from './softhsm.js';
export { SOFTWARE_TPM_SCRIPT, startSoftwareTpm, stopSoftwareTpm, type SoftwareTpm } from './software-tpm.js';
export { runTool, toolStatus, type ToolOptions, type ToolResult } from './tools.js';

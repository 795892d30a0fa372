import { inject } from 'vitest';
import './provided-context.js';
import type { KeyringEnv } from './keyring.js';
import { softHsm, type SoftHsm } from './softhsm.js';
import type { SoftwareTpm } from './software-tpm.js';

/**
 * The SoftHSM2 store of the run's global setup (`softHsmSetup`), with SOFTHSM2_CONF set in this
 * test process: SoftHSM reads it at C_Initialize, on first use.
 */
export function useSoftHsm(): SoftHsm {
  const store = inject('softhsm');
  process.env.SOFTHSM2_CONF = store.conf;
  return softHsm(store);
}

/**
 * The software TPM of the run's global setup (`softwareTpmSetup`), with its environment set in
 * this test process: tpm2-pkcs11 reads TPM2_PKCS11_TCTI and TPM2_PKCS11_STORE at C_Initialize.
 */
export function useSoftwareTpm(): SoftwareTpm {
  const tpm = inject('tpm');
  Object.assign(process.env, tpm.env);
  return tpm;
}

/**
 * The keyring session of the run's global setup (`keyringSetup`), its bus and directories set in
 * this test process. libdbus reads the bus address once per process: call this before first use.
 */
export function useKeyring(): KeyringEnv {
  const env = inject('keyring');
  Object.assign(process.env, env);
  return env;
}

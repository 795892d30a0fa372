import type { TestProject } from 'vitest/node';
import { startTpm, stopTpm } from '../fixtures/tpm.js';

/** One software TPM stack (swtpm, dbus-daemon, tpm2-abrmd, a tpm2-pkcs11 store) for the run; stopped by PID at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tpm = await startTpm();
  project.provide('tpm', tpm);
  return () => stopTpm(tpm);
}

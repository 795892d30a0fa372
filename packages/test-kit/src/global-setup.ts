import type { TestProject } from 'vitest/node';
import './provided-context.js';
import { startKeyringSession } from './keyring.js';
import { softHsmStore, startSoftHsm } from './softhsm.js';
import { startSoftwareTpm, stopSoftwareTpm } from './software-tpm.js';

/**
 * Vitest global setups around the kit's harnesses: each starts its part once for the run, hands
 * it to the test files (`useSoftHsm`, `useSoftwareTpm`, `useKeyring`) and stops it at the end.
 * A package's globalSetup file default-exports one of them.
 */

/**
 * One SoftHSM2 store with a token per label for the run, removed at its end.
 * @example export default softHsmSetup(['keymint-conformance', 'keymint-backend']);
 */
export function softHsmSetup(labels: readonly string[]): (project: TestProject) => () => void {
  return (project) => {
    const softhsm = startSoftHsm(labels);
    project.provide('softhsm', softHsmStore(softhsm));
    return () => softhsm.remove();
  };
}

/** One software TPM stack with one token for the run; stopped by PID at its end. */
export function softwareTpmSetup(): (project: TestProject) => () => void {
  return (project) => {
    const tpm = startSoftwareTpm();
    project.provide('tpm', tpm);
    return () => stopSoftwareTpm(tpm);
  };
}

/** One private D-Bus session with an unlocked GNOME Keyring for the run; stopped by PID at its end. */
export function keyringSetup(): (project: TestProject) => Promise<() => Promise<void>> {
  return async (project) => {
    const session = await startKeyringSession();
    project.provide('keyring', session.env);
    return () => session.stop();
  };
}

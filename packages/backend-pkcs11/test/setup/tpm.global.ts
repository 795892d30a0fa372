import { softwareTpmSetup } from '@keymint/test-kit/global-setup';

/** One software TPM stack (swtpm, dbus-daemon, tpm2-abrmd, a tpm2-pkcs11 store) for the run; stopped by PID at the end. */
export default softwareTpmSetup();

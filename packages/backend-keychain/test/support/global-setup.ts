import { keyringSetup } from '@keymint/test-kit/global-setup';

/** One headless Secret Service for the whole run; stopped by PID when the run ends. */
export default keyringSetup();

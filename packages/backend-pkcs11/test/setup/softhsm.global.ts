import { softHsmSetup } from '@keymint/test-kit/global-setup';
import { SOFTHSM_TOKENS } from '../fixtures/softhsm-tokens.js';

/** One SoftHSM2 token store for the run, in a temp dir; removed at the end. */
export default softHsmSetup(Object.values(SOFTHSM_TOKENS));

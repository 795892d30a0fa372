import { useSoftHsm } from '@keymint/test-kit';
import { describeBackendConformance } from '@keymint/core/testing';
import { pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';

const softhsm = useSoftHsm();

// Every key type keymint has, on a SoftHSM2 token: what the token's mechanisms allow is made,
// signed with and checked with jose; the rest (X25519, X448, Ed448, secp256k1) is refused.
describeBackendConformance(
  'pkcs11 on SoftHSM2',
  () => pkcs11Backend({ uri: softhsm.uri(SOFTHSM_TOKENS.conformance) }),
  {
    rsaSizes: [2048, 3072, 4096],
    // A new process signs with the reference alone: its URI names the token, module and PIN file.
    reload: { module: new URL('../dist/index.js', import.meta.url) },
  },
);

import type { Curve } from '@keymint/core';
import type { ModuleInfo } from './pkcs11-module.js';

/** Known deviations of a PKCS#11 module that keymint works around. */
export interface ModuleQuirks {
  /** Curves the module offers but gets wrong: never declared, so never created. */
  brokenCurves: readonly Curve[];
  /**
   * The module derives the usage attributes of a new public key from the key itself and fails
   * C_GenerateKeyPair (CKR_GENERAL_ERROR) when the template sets them; the private key's are
   * still set in full.
   */
  publicUsageFromKey: boolean;
  /** What to tell the user when making a key fails with CKR_GENERAL_ERROR, which says nothing itself. */
  keygenFailureHint?: string;
  /**
   * CKR_GENERAL_ERROR (and a token missing from the slot list) is a passing state under concurrent
   * use, and the same call succeeds a moment later: see retry-transient.ts for what is tried again.
   */
  transientGeneralError: boolean;
}

const NONE: ModuleQuirks = { brokenCurves: [], publicUsageFromKey: false, transientGeneralError: false };

/**
 * SoftHSM 2.6 with its file object store: a process that reads a token file while another process
 * rewrites it (a key being made) sees it as invalid for a moment. C_GetTokenInfo, C_Login,
 * C_FindObjects, C_Sign and C_GenerateKeyPair then return CKR_GENERAL_ERROR, and a token read that
 * way during C_Initialize is missing from the slot list until the next C_Initialize (both seen in
 * the concurrency test, a few runs in twenty). It is never a PIN check.
 */
const SOFTHSM: ModuleQuirks = { ...NONE, transientGeneralError: true };

/**
 * tpm2-pkcs11 (manufacturer "tpm2-software.github.io", seen with 1.9): CKA_EC_POINT of a P-521
 * key has a short-form DER length for its 133 octets (`04 85 04...` instead of `04 81 85 04...`),
 * an explicit CKA_VERIFY or CKA_ENCRYPT on the public key template fails key generation with
 * "User specified and TPM specified attr mismatch", and every key it makes stays loaded in the TPM
 * until the module is finalized: behind tpm2-abrmd (27 loaded objects per client by default) one
 * process can make about a dozen keys, then C_GenerateKeyPair fails with CKR_GENERAL_ERROR.
 */
const TPM2_PKCS11: ModuleQuirks = {
  ...NONE,
  brokenCurves: ['P-521'],
  publicUsageFromKey: true,
  keygenFailureHint:
    'tpm2-pkcs11 keeps every key it makes loaded in the TPM until the process lets go of the module, and tpm2-abrmd allows 27 loaded objects per client: close the backend and open a new one every ten keys or so, or start tpm2-abrmd with a higher --max-transients',
};

/**
 * The quirks of a module, recognized by its CK_INFO manufacturer.
 * @example quirksOf(handle.info).brokenCurves // ['P-521'] for tpm2-pkcs11
 */
export function quirksOf(info: Pick<ModuleInfo, 'manufacturer'>): ModuleQuirks {
  if (info.manufacturer === 'tpm2-software.github.io') return TPM2_PKCS11;
  if (info.manufacturer === 'SoftHSM') return SOFTHSM;
  return NONE;
}

/**
 * True for p11-kit's client module (p11-kit-client.so) that found no server at
 * P11_KIT_SERVER_ADDRESS: it still loads and initializes, lists no slot, and says so only in its
 * CK_INFO, as library description "p11-kit (no connection)" (p11-kit 0.24).
 * @example if (hasNoServer(handle.info)) throw ... // "token ... is unavailable"
 */
export function hasNoServer(info: Pick<ModuleInfo, 'manufacturer' | 'description'>): boolean {
  return info.manufacturer === 'p11-kit' && info.description.includes('(no connection)');
}

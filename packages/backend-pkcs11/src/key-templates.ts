import type { ITemplate } from 'graphene-pk11';
import { ErrorCode, KeymintError, describeSpec, type KeySpec } from '@keymint/core';
import { tokenCurve } from './ec-curves.js';
import type { ModuleQuirks } from './module-quirks.js';
import { CKK, CKM, CKO } from './pkcs11-constants.js';

/** What C_GenerateKeyPair or C_GenerateKey is called with. */
export type KeyTemplates =
  | { kind: 'pair'; mechanism: number; publicTemplate: ITemplate; privateTemplate: ITemplate }
  | { kind: 'secret'; mechanism: number; template: ITemplate };

/** The RSA public exponent, F4 (65537). */
const F4 = Buffer.from([0x01, 0x00, 0x01]);

/**
 * Every usage attribute a private key has, set explicitly: a module fills in what a template
 * leaves out, and SoftHSM turns unset usages on.
 */
interface PrivateUsage {
  sign: boolean;
  signRecover: false;
  decrypt: boolean;
  unwrap: boolean;
  derive: boolean;
}
interface PublicUsage {
  verify: boolean;
  verifyRecover: false;
  encrypt: boolean;
  wrap: boolean;
  derive: false;
}
interface SecretUsage {
  sign: boolean;
  verify: boolean;
  encrypt: boolean;
  decrypt: boolean;
  wrap: boolean;
  unwrap: boolean;
  derive: false;
}

function unsupported(spec: KeySpec): KeymintError {
  return new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    `the pkcs11 backend cannot make ${describeSpec(spec)} keys for --use ${spec.use}: use sig or enc`,
  );
}

/** sig: sign only. enc: decrypt and unwrap (RSA), derive (EC key agreement). */
function pairUsage(spec: KeySpec): { priv: PrivateUsage; pub: PublicUsage } {
  if (spec.use === 'sig') {
    return {
      priv: { sign: true, signRecover: false, decrypt: false, unwrap: false, derive: false },
      pub: { verify: true, verifyRecover: false, encrypt: false, wrap: false, derive: false },
    };
  }
  if (spec.use !== 'enc') throw unsupported(spec);
  if (spec.kty === 'RSA') {
    return {
      priv: { sign: false, signRecover: false, decrypt: true, unwrap: true, derive: false },
      pub: { verify: false, verifyRecover: false, encrypt: true, wrap: true, derive: false },
    };
  }
  // ECDH: the private key derives; the public key is handed to the peer and does nothing on the token.
  return {
    priv: { sign: false, signRecover: false, decrypt: false, unwrap: false, derive: true },
    pub: { verify: false, verifyRecover: false, encrypt: false, wrap: false, derive: false },
  };
}

/**
 * HS*: sign and verify (a MAC is checked by computing it again with the same key).
 * A*KW: wrap and unwrap. A*GCMKW and dir: encrypt and decrypt (AES-GCM).
 */
function secretUsage(spec: KeySpec): SecretUsage {
  const none: SecretUsage = {
    sign: false,
    verify: false,
    encrypt: false,
    decrypt: false,
    wrap: false,
    unwrap: false,
    derive: false,
  };
  if (spec.use === 'sig') return { ...none, sign: true, verify: true };
  if (spec.use !== 'enc') throw unsupported(spec);
  if (spec.alg !== undefined && /^A\d+KW$/.test(spec.alg)) return { ...none, wrap: true, unwrap: true };
  return { ...none, encrypt: true, decrypt: true };
}

/**
 * The templates for a new key: CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE true, CKA_EXTRACTABLE
 * false, every usage attribute explicit and only those the use and alg call for; label and id
 * on both halves of a pair. Ed25519 uses the PKCS#11 3.0 numbers (CKK_EC_EDWARDS,
 * CKM_EC_EDWARDS_KEY_PAIR_GEN) and the OID 1.3.101.112 as CKA_EC_PARAMS.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED for a key type or use a token key cannot have
 * @example keyTemplates(resolveKeySpec({ kty: 'EC' }), 'my-key', id, quirksOf(info))
 * @see https://docs.oasis-open.org/pkcs11/pkcs11-curr/v3.0/pkcs11-curr-v3.0.html §2.3.10 (EdDSA)
 */
export function keyTemplates(spec: KeySpec, label: string, id: Uint8Array, quirks: ModuleQuirks): KeyTemplates {
  const names = { label, id: Buffer.from(id) };
  const secretKey = { token: true, private: true, sensitive: true, extractable: false };
  if (spec.kty === 'oct') {
    const usage = secretUsage(spec);
    const hmac = spec.use === 'sig';
    return {
      kind: 'secret',
      mechanism: hmac ? CKM.GENERIC_SECRET_KEY_GEN : CKM.AES_KEY_GEN,
      template: {
        class: CKO.SECRET_KEY,
        keyType: hmac ? CKK.GENERIC_SECRET : CKK.AES,
        valueLen: (spec.size as number) / 8,
        ...secretKey,
        ...names,
        ...usage,
      },
    };
  }
  const { priv, pub } = pairUsage(spec);
  let mechanism: number;
  let keyType: number;
  let publicParams: ITemplate;
  if (spec.kty === 'RSA') {
    mechanism = CKM.RSA_PKCS_KEY_PAIR_GEN;
    keyType = CKK.RSA;
    publicParams = { modulusBits: spec.size as number, publicExponent: F4 };
  } else {
    const curve = tokenCurve(spec.crv);
    if (curve === undefined) throw unsupported(spec);
    mechanism = curve.kty === 'OKP' ? CKM.EC_EDWARDS_KEY_PAIR_GEN : CKM.EC_KEY_PAIR_GEN;
    keyType = curve.kty === 'OKP' ? CKK.EC_EDWARDS : CKK.EC;
    publicParams = { paramsECDSA: Buffer.from(curve.params) };
  }
  return {
    kind: 'pair',
    mechanism,
    publicTemplate: {
      class: CKO.PUBLIC_KEY,
      keyType,
      token: true,
      private: false,
      ...names,
      ...publicParams,
      ...(quirks.publicUsageFromKey ? {} : pub),
    },
    privateTemplate: {
      class: CKO.PRIVATE_KEY,
      keyType,
      ...secretKey,
      ...names,
      ...priv,
    },
  };
}

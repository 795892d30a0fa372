import { createHash } from 'node:crypto';
import {
  ECDSA_COMPONENT_BYTES,
  ErrorCode,
  KeymintError,
  assertAlgorithmFits,
  signatureScheme,
  type HashName,
} from '@keymint/core';
import type { TokenKey } from './find-key.js';
import { toKeymintError } from './map-pkcs11-error.js';
import { CKF_MECHANISM, CKG, CKK, CKM } from './pkcs11-constants.js';
import { retryTransient } from './retry-transient.js';
import { can } from './token-key-types.js';
import type { TokenSession } from './token-session.js';

const HASH: Record<
  HashName,
  { mechanism: number; mgf: number; bytes: number; rsaPkcs: number; rsaPss: number; hmac: number; digestInfo: string }
> = {
  sha256: {
    mechanism: CKM.SHA256,
    mgf: CKG.MGF1_SHA256,
    bytes: 32,
    rsaPkcs: CKM.SHA256_RSA_PKCS,
    rsaPss: CKM.SHA256_RSA_PKCS_PSS,
    hmac: CKM.SHA256_HMAC,
    digestInfo: '3031300d060960864801650304020105000420',
  },
  sha384: {
    mechanism: CKM.SHA384,
    mgf: CKG.MGF1_SHA384,
    bytes: 48,
    rsaPkcs: CKM.SHA384_RSA_PKCS,
    rsaPss: CKM.SHA384_RSA_PKCS_PSS,
    hmac: CKM.SHA384_HMAC,
    digestInfo: '3041300d060960864801650304020205000430',
  },
  sha512: {
    mechanism: CKM.SHA512,
    mgf: CKG.MGF1_SHA512,
    bytes: 64,
    rsaPkcs: CKM.SHA512_RSA_PKCS,
    rsaPss: CKM.SHA512_RSA_PKCS_PSS,
    hmac: CKM.SHA512_HMAC,
    digestInfo: '3051300d060960864801650304020305000440',
  },
};

interface SignPlan {
  mechanism: number;
  parameter: unknown;
  input: Buffer;
  /** Expected length of the signature, or undefined when only an upper bound is known. */
  length: number;
}

function plan(token: TokenSession, key: TokenKey, alg: string, data: Buffer): SignPlan {
  const scheme = signatureScheme(alg);
  const hash = scheme.hash === undefined ? undefined : HASH[scheme.hash];
  const signs = (mechanism: number) => can(token.mechanisms, mechanism, CKF_MECHANISM.SIGN);
  const digest = () =>
    createHash(scheme.hash as string)
      .update(data)
      .digest();
  const notHere = () =>
    new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${alg} is not supported by token ${token.name}: it lacks the mechanism`,
    );
  switch (scheme.family) {
    case 'hmac':
      if (!signs(hash!.hmac)) throw notHere();
      return { mechanism: hash!.hmac, parameter: null, input: data, length: hash!.bytes };
    case 'rsa-pkcs1':
      if (signs(hash!.rsaPkcs))
        return { mechanism: hash!.rsaPkcs, parameter: null, input: data, length: key.modulusBytes as number };
      if (!signs(CKM.RSA_PKCS)) throw notHere();
      // Raw PKCS#1 v1.5 signs a DigestInfo: the hash and its algorithm, DER (RFC 8017 §9.2).
      return {
        mechanism: CKM.RSA_PKCS,
        parameter: null,
        input: Buffer.concat([Buffer.from(hash!.digestInfo, 'hex'), digest()]),
        length: key.modulusBytes as number,
      };
    case 'rsa-pss': {
      // JOSE's PSS: MGF1 with the same hash, salt as long as the hash (RFC 7518 §3.5).
      const parameter = new token.module.graphene.RsaPssParams(hash!.mechanism, hash!.mgf, hash!.bytes);
      if (signs(hash!.rsaPss))
        return { mechanism: hash!.rsaPss, parameter, input: data, length: key.modulusBytes as number };
      if (!signs(CKM.RSA_PKCS_PSS)) throw notHere();
      return { mechanism: CKM.RSA_PKCS_PSS, parameter, input: digest(), length: key.modulusBytes as number };
    }
    case 'ecdsa':
      if (!signs(CKM.ECDSA)) throw notHere();
      // CKM_ECDSA signs a hash made here; the token returns r||s, already the JOSE form (RFC 7518 §3.4).
      return {
        mechanism: CKM.ECDSA,
        parameter: null,
        input: digest(),
        length: 2 * (ECDSA_COMPONENT_BYTES[key.crv as string] as number),
      };
    case 'eddsa':
      if (!signs(CKM.EDDSA)) throw notHere();
      // Ed25519 hashes inside the algorithm: the whole message goes to the token, in one call.
      return { mechanism: CKM.EDDSA, parameter: null, input: data, length: 64 };
  }
}

/**
 * Signs a JWS signing input with a key on a logged-in token and returns the JWS signature bytes:
 * RSA PKCS#1 v1.5 and PSS (CKM_SHA*_RSA_PKCS[_PSS], else the hash here and CKM_RSA_PKCS[_PSS]),
 * ECDSA (hash here, CKM_ECDSA, r||s), Ed25519 (CKM_EDDSA, one call) and HMAC (CKM_SHA*_HMAC).
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED when the algorithm does not fit the key, the key may
 *   not sign, or the token lacks the mechanism
 * @example await signWithKey(token, findKey(token, uri), 'ES256', signingInput)
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3
 */
export async function signWithKey(
  token: TokenSession,
  key: TokenKey,
  alg: string,
  data: Uint8Array,
): Promise<Uint8Array> {
  assertAlgorithmFits({ kty: key.kty, ...(key.crv === undefined ? {} : { crv: key.crv }) }, alg, 'sig');
  if (key.kty === 'oct' && key.keyType === CKK.AES) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `the key is an AES key for encryption: it cannot sign with ${alg}`,
    );
  }
  const { mechanism, parameter, input, length } = plan(token, key, alg, Buffer.from(data));
  const lib = token.session.lib;
  type Pkcs11Mechanism = Parameters<typeof lib.C_SignInit>[1];
  const pkcs11Mechanism = (
    parameter === null ? { mechanism } : { mechanism, parameter: (parameter as { toCKI: () => unknown }).toCKI() }
  ) as Pkcs11Mechanism;
  let signature: Buffer;
  try {
    // A failed C_Sign ends the operation, so a try again (SoftHSM's passing CKR_GENERAL_ERROR) starts over.
    signature = await retryTransient(token.quirks, async () => {
      lib.C_SignInit(token.session.handle, pkcs11Mechanism, key.object.handle);
      return lib.C_SignAsync(token.session.handle, input, Buffer.alloc(Math.max(length, 64)));
    });
  } catch (error) {
    throw toKeymintError(error, { action: `signing with ${alg}`, token: token.name });
  }
  if (signature.length !== length) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `token ${token.name} returned a ${alg} signature of ${signature.length} bytes, expected ${length}`,
    );
  }
  return Uint8Array.from(signature);
}

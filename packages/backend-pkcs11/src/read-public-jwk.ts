import type { SessionObject } from 'graphene-pk11';
import { ErrorCode, KeymintError, isKeymintError, type Jwk } from '@keymint/core';
import { unwrapOctetString } from '@keymint/core/pem';
import { curveOfParams, type TokenCurve } from './ec-curves.js';
import { CKK } from './pkcs11-constants.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** An unsigned big-endian integer without leading zero octets (RFC 7518 §6.3.1.1). */
function unsigned(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

function malformed(what: string, cause?: unknown): KeymintError {
  return new KeymintError(
    ErrorCode.INPUT_INVALID,
    `the token returned a malformed ${what}`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * The public key of an EC or Ed25519 key from CKA_EC_PARAMS and CKA_EC_POINT. The point comes as
 * a DER OCTET STRING around it (`04 41 04||X||Y` for P-256, `04 81 85 ...` for P-521, `04 20 X`
 * for Ed25519): it is unwrapped by its DER length, never guessed from its size.
 * @throws KeymintError ERR_INPUT_INVALID for a malformed point; ERR_ALG_NOT_SUPPORTED for an unknown curve
 * @see https://docs.oasis-open.org/pkcs11/pkcs11-curr/v3.0/pkcs11-curr-v3.0.html §2.3.3 (CKA_EC_POINT)
 */
export function curveJwk(params: Uint8Array, encodedPoint: Uint8Array): { curve: TokenCurve; jwk: Jwk } {
  const curve = curveOfParams(params);
  let point: Uint8Array;
  try {
    point = unwrapOctetString(encodedPoint);
  } catch (error) {
    if (isKeymintError(error)) throw malformed(`CKA_EC_POINT for ${curve.crv} (${error.message})`, error);
    throw error;
  }
  if (curve.kty === 'OKP') {
    if (point.length !== curve.bytes)
      throw malformed(`CKA_EC_POINT: ${point.length} octets for ${curve.crv}, expected ${curve.bytes}`);
    return { curve, jwk: { kty: 'OKP', crv: curve.crv, x: b64(point) } };
  }
  if (point[0] !== 0x04 || point.length !== 1 + 2 * curve.bytes) {
    throw malformed(`CKA_EC_POINT: not an uncompressed ${curve.crv} point (${point.length} octets)`);
  }
  const x = point.subarray(1, 1 + curve.bytes);
  const y = point.subarray(1 + curve.bytes);
  return { curve, jwk: { kty: 'EC', crv: curve.crv, x: b64(x), y: b64(y) } };
}

/** The public JWK of an RSA key from CKA_MODULUS and CKA_PUBLIC_EXPONENT (readable on both halves). */
export function rsaJwk(modulus: Uint8Array, exponent: Uint8Array): Jwk {
  return { kty: 'RSA', n: b64(unsigned(modulus)), e: b64(unsigned(exponent)) };
}

/**
 * The public JWK of a token's public key object (or RSA private key object): kty, crv, x, y or
 * n, e and nothing else.
 * @throws KeymintError ERR_INPUT_INVALID, ERR_ALG_NOT_SUPPORTED for key types keymint does not use
 * @example publicJwkOf(pair.publicKey, CKK.EC) // { kty: 'EC', crv: 'P-256', x, y }
 */
export function publicJwkOf(object: SessionObject, keyType: number): Jwk {
  if (keyType === CKK.RSA) {
    const { modulus, publicExponent } = object.getAttribute({ modulus: null, publicExponent: null }) as {
      modulus: Buffer;
      publicExponent: Buffer;
    };
    return rsaJwk(modulus, publicExponent);
  }
  if (keyType === CKK.EC || keyType === CKK.EC_EDWARDS) {
    const { paramsECDSA, pointEC } = object.getAttribute({ paramsECDSA: null, pointEC: null }) as {
      paramsECDSA: Buffer;
      pointEC: Buffer;
    };
    return curveJwk(paramsECDSA, pointEC).jwk;
  }
  throw new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    `a key of PKCS#11 key type 0x${keyType.toString(16)} has no public JWK keymint can write`,
  );
}

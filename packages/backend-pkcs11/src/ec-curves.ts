import { ErrorCode, KeymintError, type Curve } from '@keymint/core';

/** A curve keymint can make on a token: its DER CKA_EC_PARAMS and coordinate size. */
export interface TokenCurve {
  crv: Curve;
  kty: 'EC' | 'OKP';
  /** The named-curve OID, DER-encoded, as CKA_EC_PARAMS takes it. */
  params: Uint8Array;
  oid: string;
  /** Field size in bits, as CK_MECHANISM_INFO key sizes count EC keys. */
  bits: number;
  /** Bytes of one coordinate (EC) or of the public key (Ed25519). */
  bytes: number;
}

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

/** @see https://www.rfc-editor.org/rfc/rfc5480#section-2.1.1.1 and RFC 8410 §3 (1.3.101.112) */
export const TOKEN_CURVES: readonly TokenCurve[] = [
  { crv: 'P-256', kty: 'EC', params: hex('06082a8648ce3d030107'), oid: '1.2.840.10045.3.1.7', bits: 256, bytes: 32 },
  { crv: 'P-384', kty: 'EC', params: hex('06052b81040022'), oid: '1.3.132.0.34', bits: 384, bytes: 48 },
  { crv: 'P-521', kty: 'EC', params: hex('06052b81040023'), oid: '1.3.132.0.35', bits: 521, bytes: 66 },
  { crv: 'Ed25519', kty: 'OKP', params: hex('06032b6570'), oid: '1.3.101.112', bits: 255, bytes: 32 },
];

/** CKA_EC_PARAMS of Edwards keys may also be the PrintableString "edwards25519" (PKCS#11 3.0 §2.3.10), DER-encoded. */
const EDWARDS25519_NAME = Buffer.concat([Buffer.of(0x13, 12), Buffer.from('edwards25519', 'latin1')]);

/** The curve of a key of this type, or undefined. */
export function tokenCurve(crv: string | undefined): TokenCurve | undefined {
  return TOKEN_CURVES.find((c) => c.crv === crv);
}

/**
 * The curve that CKA_EC_PARAMS names: a named-curve OID, or for Edwards keys the printable name.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED for a curve keymint does not know (explicit parameters,
 *   Ed448, secp256k1 ...)
 * @example curveOfParams(Buffer.from('06032b6570', 'hex')).crv // 'Ed25519'
 */
export function curveOfParams(params: Uint8Array): TokenCurve {
  // DER is canonical: a named curve has exactly one encoding, so comparing bytes is comparing OIDs.
  const bytes = Buffer.from(params);
  const found = EDWARDS25519_NAME.equals(bytes)
    ? tokenCurve('Ed25519')
    : TOKEN_CURVES.find((c) => bytes.equals(c.params));
  if (found === undefined) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `the key's curve (CKA_EC_PARAMS ${Buffer.from(params).toString('hex')}) is not one keymint uses: P-256, P-384, P-521 or Ed25519`,
    );
  }
  return found;
}

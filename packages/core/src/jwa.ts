import { ErrorCode, KeymintError } from './errors.js';
import { EC_CURVES, curveBytes } from './params.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';

/** How a JWS algorithm signs: its family and hash. Backends map this to their own mechanisms. */
export interface SignatureScheme {
  alg: string;
  family: 'hmac' | 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'eddsa';
  /** The hash, or undefined for EdDSA, which hashes inside the algorithm. */
  hash: HashName | undefined;
}

const SCHEMES: Record<string, Omit<SignatureScheme, 'alg'>> = {
  HS256: { family: 'hmac', hash: 'sha256' },
  HS384: { family: 'hmac', hash: 'sha384' },
  HS512: { family: 'hmac', hash: 'sha512' },
  RS256: { family: 'rsa-pkcs1', hash: 'sha256' },
  RS384: { family: 'rsa-pkcs1', hash: 'sha384' },
  RS512: { family: 'rsa-pkcs1', hash: 'sha512' },
  PS256: { family: 'rsa-pss', hash: 'sha256' },
  PS384: { family: 'rsa-pss', hash: 'sha384' },
  PS512: { family: 'rsa-pss', hash: 'sha512' },
  ES256: { family: 'ecdsa', hash: 'sha256' },
  ES384: { family: 'ecdsa', hash: 'sha384' },
  ES512: { family: 'ecdsa', hash: 'sha512' },
  ES256K: { family: 'ecdsa', hash: 'sha256' },
  EdDSA: { family: 'eddsa', hash: undefined },
};

/**
 * The signing scheme of a JWS algorithm.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED for an algorithm that does not sign
 * @example signatureScheme('PS256') // { alg: 'PS256', family: 'rsa-pss', hash: 'sha256' }
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 */
export function signatureScheme(alg: string): SignatureScheme {
  const scheme = SCHEMES[alg];
  if (scheme === undefined) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `"${alg}" is not a signature algorithm: use ${Object.keys(SCHEMES).join(', ')}`,
    );
  }
  return { alg, ...scheme };
}

/** Byte length of each half of an ECDSA signature (r||s, RFC 7518 §3.4) by curve: the coordinate size. */
export const ECDSA_COMPONENT_BYTES: Record<string, number> = Object.fromEntries(
  EC_CURVES.map((crv) => [crv, curveBytes(crv)]),
);

import { constants, createPublicKey, createSecretKey, timingSafeEqual, createHmac, verify as nodeVerify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { compactVerify, errors as joseErrors, importJWK } from 'jose';
import type { Jwk } from './jwk.js';
import { signatureScheme } from './jwa.js';

/** Which implementation checked a signature: jose where it knows the algorithm, else OpenSSL via Node. */
export type Verifier = 'jose' | 'node';

/**
 * Verifies a compact JWS with the public JWK (or, for HMAC, the secret JWK), using jose; for the
 * algorithms jose 6 dropped (ES256K, Ed448) it falls back to Node's OpenSSL.
 */
export async function verifyCompactJws(jws: string, jwk: Jwk, alg: string): Promise<{ valid: boolean; verifier: Verifier }> {
  let key;
  try {
    key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
  } catch (error) {
    if (!(error instanceof joseErrors.JOSENotSupported) && !(error instanceof TypeError)) throw error;
    return { valid: verifyWithNode(jws, jwk, alg), verifier: 'node' };
  }
  try {
    await compactVerify(jws, key, { algorithms: [alg] });
    return { valid: true, verifier: 'jose' };
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) return { valid: false, verifier: 'jose' };
    throw error;
  }
}

function verifyWithNode(jws: string, jwk: Jwk, alg: string): boolean {
  const [header, payload, signature] = jws.split('.');
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature ?? '', 'base64url');
  const scheme = signatureScheme(alg);
  if (scheme.family === 'hmac') {
    const expected = createHmac(scheme.hash as string, createSecretKey(Buffer.from(jwk.k ?? '', 'base64url'))).update(data).digest();
    return expected.length === sig.length && timingSafeEqual(expected, sig);
  }
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  switch (scheme.family) {
    case 'rsa-pkcs1':
      return nodeVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
    case 'rsa-pss':
      return nodeVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
    case 'ecdsa':
      return nodeVerify(scheme.hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    case 'eddsa':
      return nodeVerify(null, data, key, sig);
  }
}

import { calculateJwkThumbprint, calculateJwkThumbprintUri } from 'jose';
import { ErrorCode, KeymintError, oneOf } from './errors.js';
import type { Jwk } from './jwk.js';

export const THUMBPRINT_HASHES = ['sha256', 'sha384', 'sha512'] as const;
export type ThumbprintHash = (typeof THUMBPRINT_HASHES)[number];

function checkHash(hash: string): asserts hash is ThumbprintHash {
  if (!(THUMBPRINT_HASHES as readonly string[]).includes(hash)) {
    throw new KeymintError(ErrorCode.PARAM_INVALID, `--hash "${hash}" is not supported: use ${oneOf(THUMBPRINT_HASHES)}`);
  }
}

async function wrap<T>(jwk: Jwk, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `cannot compute a thumbprint of this ${String(jwk.kty)} key: a required member is missing or not a string`, { cause });
  }
}

/**
 * RFC 7638 thumbprint: the hash of the required members in lexicographic order, base64url.
 * Works for EC, RSA, oct and every OKP curve (RFC 8037 §2, X25519 and X448 included).
 * @throws KeymintError ERR_INPUT_INVALID when a required member is missing
 * @example await thumbprint(publicJwk) // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export async function thumbprint(jwk: Jwk, hash: ThumbprintHash = 'sha256'): Promise<string> {
  checkHash(hash);
  return wrap(jwk, () => calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0], hash));
}

/**
 * RFC 9278 thumbprint URI: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:<thumbprint>`.
 * @throws KeymintError ERR_INPUT_INVALID when a required member is missing
 * @see https://www.rfc-editor.org/rfc/rfc9278#section-3
 */
export async function thumbprintUri(jwk: Jwk, hash: ThumbprintHash = 'sha256'): Promise<string> {
  checkHash(hash);
  return wrap(jwk, () => calculateJwkThumbprintUri(jwk as Parameters<typeof calculateJwkThumbprintUri>[0], hash));
}

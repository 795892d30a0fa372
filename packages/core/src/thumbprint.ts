import { createHash } from 'node:crypto';
import { ErrorCode, KeymintError, message, oneOf, param } from './errors.js';
import type { Jwk } from './jwk.js';

export const THUMBPRINT_HASHES = ['sha256', 'sha384', 'sha512'] as const;
export type ThumbprintHash = (typeof THUMBPRINT_HASHES)[number];

/** The members a thumbprint covers, in lexicographic order (RFC 7638 §3.2, RFC 8037 §2). */
const REQUIRED_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
  oct: ['k', 'kty'],
};

/** RFC 9278 §3 names the hash of a thumbprint URI as the IANA hash name. */
const URI_HASH_NAMES: Record<ThumbprintHash, string> = { sha256: 'sha-256', sha384: 'sha-384', sha512: 'sha-512' };

function checkHash(hash: string): asserts hash is ThumbprintHash {
  if (!(THUMBPRINT_HASHES as readonly string[]).includes(hash)) {
    throw new KeymintError(
      ErrorCode.PARAM_INVALID,
      message`${param('hash')} "${hash}" is not supported: use ${oneOf(THUMBPRINT_HASHES)}`,
      { param: 'hash' },
    );
  }
}

/**
 * RFC 7638 thumbprint: the hash of the required members in lexicographic order, base64url.
 * Works for EC, RSA, oct and every OKP curve (RFC 8037 §2, X25519 and X448 included).
 * @throws KeymintError ERR_INPUT_INVALID when the key type is unknown or a required member is not a string
 * @example await thumbprint(publicJwk) // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export async function thumbprint(jwk: Jwk, hash: ThumbprintHash = 'sha256'): Promise<string> {
  return thumbprintNow(jwk, hash);
}

/** `thumbprint` without a promise, for code that must not wait (the key file reader). */
export function thumbprintNow(jwk: Jwk, hash: ThumbprintHash = 'sha256'): string {
  checkHash(hash);
  const members = Object.hasOwn(REQUIRED_MEMBERS, jwk.kty) ? REQUIRED_MEMBERS[jwk.kty] : undefined;
  if (members === undefined || members.some((m) => typeof jwk[m] !== 'string')) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `cannot compute a thumbprint of this ${String(jwk.kty)} key: a required member is missing or not a string`,
    );
  }
  // RFC 7638 §3.3: no whitespace, members in lexicographic order, values as JSON strings.
  const canonical = `{${members.map((m) => `"${m}":${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash(hash).update(canonical).digest('base64url');
}

/**
 * RFC 9278 thumbprint URI: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:<thumbprint>`.
 * @throws KeymintError ERR_INPUT_INVALID when a required member is missing
 * @see https://www.rfc-editor.org/rfc/rfc9278#section-3
 */
export async function thumbprintUri(jwk: Jwk, hash: ThumbprintHash = 'sha256'): Promise<string> {
  const value = thumbprintNow(jwk, hash);
  return `urn:ietf:params:oauth:jwk-thumbprint:${URI_HASH_NAMES[hash]}:${value}`;
}

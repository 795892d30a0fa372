import {
  ErrorCode,
  KeymintError,
  isKeymintError,
  isPrivateJwk,
  thumbprint,
  toPublicJwk,
  type Jwk,
} from '@keymint/core';
import { describeEntry, type ErrorContext } from './keychain-error.js';
import { readSecret, type KeychainPlace } from './keychain-place.js';
import type { KeychainStore } from './options.js';

/**
 * Parses the secret of a keychain entry: it must be a private JWK in JSON.
 * @throws KeymintError ERR_INPUT_INVALID when it is not
 */
export function parseStoredJwk(secret: string, context: ErrorContext): Jwk {
  const notJwk = (why: string) =>
    new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the keychain entry ${describeEntry(context)} does not hold a private JWK: ${why}`,
      {
        hint: 'it was written by something other than keymint, or changed since: delete it or choose another --keychain-account',
      },
    );
  let value: unknown;
  try {
    value = JSON.parse(secret);
  } catch {
    throw notJwk('its secret is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || typeof (value as Jwk).kty !== 'string') {
    throw notJwk('its secret is JSON but has no "kty"');
  }
  const jwk = value as Jwk;
  if (!isPrivateJwk(jwk)) throw notJwk(`its secret is a ${jwk.kty} JWK without private members`);
  return jwk;
}

/** Whether a secret found by searching a service looks like keymint's: JSON with a "kty". */
export function looksLikeJwk(secret: string): boolean {
  try {
    const value = JSON.parse(secret) as { kty?: unknown } | null;
    return typeof value?.kty === 'string';
  } catch {
    return false;
  }
}

/** RFC 7638 thumbprint of a stored key's public part; undefined for oct keys. */
export async function publicThumbprint(jwk: Jwk): Promise<string | undefined> {
  if (jwk.kty === 'oct') return undefined;
  try {
    return await thumbprint(toPublicJwk(jwk));
  } catch {
    return undefined;
  }
}

/**
 * Fails when the stored key is not the one the reference was made for: another key was stored
 * under the same service and account since.
 * @throws KeymintError ERR_INPUT_INVALID
 */
export async function assertSameKey(jwk: Jwk, expected: string | undefined, context: ErrorContext): Promise<void> {
  if (expected === undefined) return;
  const actual = await publicThumbprint(jwk);
  if (actual === expected) return;
  throw new KeymintError(
    ErrorCode.INPUT_INVALID,
    `the keychain entry ${describeEntry(context)} holds another key than the reference (thumbprint ${actual ?? 'none'}, expected ${expected})`,
    { hint: 'the key was replaced under the same account: use the key files written with it' },
  );
}

/** What keymint tells about a key in the keychain; never its secret. */
export interface KeychainKeyInfo {
  service: string;
  account: string;
  /** Linux only: the store that holds it. */
  store: KeychainStore | undefined;
  /** `ok`: a private JWK; `missing`: listed in keymint's index but gone; `invalid`: not a private JWK. */
  status: 'ok' | 'missing' | 'invalid';
  kid?: string;
  kty?: string;
  crv?: string;
  alg?: string;
  use?: string;
  /** RFC 7638 SHA-256 thumbprint of the public key; absent for oct keys. */
  thumbprint?: string;
}

/** Describes the entry under `account` from its secret (null when there is none). */
export async function describeStoredKey(
  where: { service: string; store: KeychainStore | undefined },
  account: string,
  secret: string | null,
): Promise<KeychainKeyInfo> {
  const info: KeychainKeyInfo = { service: where.service, account, store: where.store, status: 'missing' };
  if (secret === null) return info;
  let jwk: Jwk;
  try {
    jwk = parseStoredJwk(secret, { service: where.service, account, store: where.store });
  } catch {
    return { ...info, status: 'invalid' };
  }
  info.status = 'ok';
  for (const member of ['kid', 'kty', 'crv', 'alg', 'use'] as const) {
    const value = jwk[member];
    if (typeof value === 'string') info[member] = value;
  }
  const print = await publicThumbprint(jwk);
  if (print !== undefined) info.thumbprint = print;
  return info;
}

/** A secret that is not text cannot be a JWK: it stands for an invalid entry, not a failure. */
const NOT_TEXT = '\u0000not text';

/**
 * The secret of an entry for describing it: null when absent; a secret the keychain cannot give
 * as text comes back as a marker that `describeStoredKey` reports as invalid.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export async function readStoredSecret(place: KeychainPlace, account: string): Promise<string | null> {
  try {
    return await readSecret(place, account);
  } catch (error) {
    if (isKeymintError(error, ErrorCode.INPUT_INVALID)) return NOT_TEXT;
    throw error;
  }
}

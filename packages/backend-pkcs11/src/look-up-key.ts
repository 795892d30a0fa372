import { findKey, type TokenKey } from './find-key.js';
import { isTokenUnavailable } from './map-pkcs11-error.js';
import { CKA } from './pkcs11-constants.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import type { TokenSession } from './token-session.js';

/** A key found on a session, and the attributes it had then. */
export interface CachedKey {
  key: TokenKey;
  /** CKA_* types read to check the handle, and the values they had when the key was found. */
  types: number[];
  values: Buffer[];
}

/** The keys found on one session, by the object, id and type of the URI that named them. */
export type KeyHandles = Map<string, CachedKey>;

/** Keys kept per session; beyond this the oldest is let go (a service may sign with many keys). */
const MAX_CACHED_KEYS = 256;

const names = new WeakMap<Pkcs11Uri, string>();

/** The part of a URI that names a key on its token (the token is the session's). */
function keyName(uri: Pkcs11Uri): string {
  let name = names.get(uri);
  if (name === undefined) {
    name = JSON.stringify([
      uri.object,
      uri.id === undefined ? undefined : Buffer.from(uri.id).toString('hex'),
      uri.type,
    ]);
    names.set(uri, name);
  }
  return name;
}

/**
 * The attributes that must read the same for a cached handle to be used: what made the object
 * match the URI (class, id, and the label when the URI names one) and, for EC and EdDSA keys, the
 * curve, which decides what the signature is (a P-256 and a secp256k1 key both give 64 bytes).
 * The rest of what signing was planned from fails loudly if it changed under the same name (an
 * RSA modulus of another size gives a signature of another length, another key type a token
 * error), and any failure with a cached handle is tried once more with the key found afresh.
 * Each attribute costs: SoftHSM re-reads its token's generation file for every one.
 */
function checkedTypes(uri: Pkcs11Uri, key: TokenKey): number[] {
  const types: number[] = [CKA.CLASS, CKA.ID];
  if (uri.object !== undefined) types.push(CKA.LABEL);
  if (key.kty === 'EC' || key.kty === 'OKP') types.push(CKA.EC_PARAMS);
  return types;
}

/** The values of `types` on `key`'s object, in one C_GetAttributeValue. */
function readValues(token: TokenSession, key: TokenKey, types: readonly number[]): Buffer[] {
  const read = token.session.lib.C_GetAttributeValue(
    token.session.handle,
    key.object.handle,
    types.map((type) => ({ type })),
  );
  return read.map((attribute) => {
    if (!Buffer.isBuffer(attribute.value)) throw new Error(`attribute 0x${attribute.type.toString(16)} is unavailable`);
    return attribute.value;
  });
}

/**
 * True when the cached handle still names an object with the same attributes; false on any error
 * but a token that is unavailable, which a search would meet as well.
 */
function stillNames(token: TokenSession, cached: CachedKey): boolean {
  try {
    const now = readValues(token, cached.key, cached.types);
    return now.length === cached.values.length && now.every((value, i) => value.equals(cached.values[i] as Buffer));
  } catch (error) {
    if (isTokenUnavailable(error)) throw error;
    return false;
  }
}

/**
 * The one private or secret key a URI names, on a logged-in session: the handle found before on
 * this session when its object still has the attributes it had then (see checkedTypes; one
 * C_GetAttributeValue), else found afresh with `findKey` and kept. An object handle is only a
 * number: once the key is deleted the token may give it to another object, so a handle is used
 * again only after that check, and any failure of the check drops it. `cached` says the handle
 * was checked rather than found: an operation that then fails with it should `forgetKey` and may
 * look the key up again, once. `reuse: false` always finds the key afresh (and keeps it).
 * @throws KeymintError ERR_KEY_NOT_FOUND, ERR_USAGE as findKey does
 * @example const { key } = lookUpKey(session, parsePkcs11Uri('pkcs11:token=t;object=my-key'));
 */
export function lookUpKey(token: TokenSession, uri: Pkcs11Uri, reuse = true): { key: TokenKey; cached: boolean } {
  const name = keyName(uri);
  const cached = reuse ? token.keyHandles.get(name) : undefined;
  if (cached !== undefined && stillNames(token, cached)) return { key: cached.key, cached: true };
  token.keyHandles.delete(name);
  const key = findKey(token, uri);
  const types = checkedTypes(uri, key);
  let values: Buffer[];
  try {
    values = readValues(token, key, types);
  } catch {
    // A token that will not show these attributes gets its keys looked up every time.
    return { key, cached: false };
  }
  if (token.keyHandles.size >= MAX_CACHED_KEYS) {
    const oldest = token.keyHandles.keys().next();
    if (oldest.done !== true) token.keyHandles.delete(oldest.value);
  }
  token.keyHandles.set(name, { key, types, values });
  return { key, cached: false };
}

/** Drops what `lookUpKey` keeps for the key a URI names on this session. */
export function forgetKey(token: TokenSession, uri: Pkcs11Uri): void {
  token.keyHandles.delete(keyName(uri));
}

import type { SessionObject } from 'graphene-pk11';
import { thumbprint, type Jwk } from '@keymint/core';
import { describeKeyObject } from './find-key.js';
import { findObjects } from './find-objects.js';
import { formatPkcs11Uri } from './format-pkcs11-uri.js';
import { CKK, CKO } from './pkcs11-constants.js';
import type { Pkcs11ObjectType } from './pkcs11-uri.js';
import { publicJwkOf } from './read-public-jwk.js';
import type { TokenSession } from './token-session.js';
import { objectUri } from './token-uri.js';

/** One key on a token, as `keymint pkcs11 keys` shows it. */
export interface Pkcs11KeyInfo {
  /** CKA_LABEL, or null when the key has none. */
  label: string | null;
  /** CKA_ID in hex, or null. */
  id: string | null;
  /** private: a key pair (its private half); secret-key: an oct key; public: a public key alone. */
  type: Extract<Pkcs11ObjectType, 'private' | 'secret-key' | 'public'>;
  kty: 'RSA' | 'EC' | 'OKP' | 'oct' | null;
  crv: string | null;
  /** Bits of an RSA modulus or an oct key. */
  size: number | null;
  /** The RFC 7638 thumbprint of the public key: the kid keymint gives it. null for oct keys. */
  kid: string | null;
  /** The public JWK, when the token shows it. */
  publicJwk: Jwk | null;
  sensitive: boolean | null;
  extractable: boolean | null;
  /** The usage attributes that are true: sign, verify, encrypt, decrypt, wrap, unwrap, derive. */
  usages: string[];
  /** The key's PKCS#11 URI (no PIN), for --pkcs11-uri or a key reference. */
  uri: string;
}

const USAGES = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap', 'derive'] as const;

function attribute<T>(object: SessionObject, name: string): T | null {
  try {
    return object.getAttribute(name) as T;
  } catch {
    // A token may not have the attribute for this class, or may refuse to show it.
    return null;
  }
}

function hexOf(id: Buffer | null): string | null {
  return id === null || id.length === 0 ? null : id.toString('hex');
}

interface Found {
  object: SessionObject;
  keyClass: number;
  label: string | null;
  id: Buffer | null;
}

function foundOf(object: SessionObject, keyClass: number): Found {
  return { object, keyClass, label: attribute<string>(object, 'label'), id: attribute<Buffer>(object, 'id') };
}

function found(token: TokenSession, keyClass: number): Found[] {
  return findObjects(token, { class: keyClass }).map((object) => foundOf(object, keyClass));
}

function sameKey(a: Found, b: Found): boolean {
  return (a.id === null ? b.id === null : b.id !== null && a.id.equals(b.id)) && a.label === b.label;
}

async function describe(
  token: TokenSession,
  key: Found,
  publicHalf: Found | undefined,
  pinSource: string | undefined,
): Promise<Pkcs11KeyInfo> {
  const type: Pkcs11KeyInfo['type'] =
    key.keyClass === CKO.PRIVATE_KEY ? 'private' : key.keyClass === CKO.SECRET_KEY ? 'secret-key' : 'public';
  let kind: ReturnType<typeof describeKeyObject> | undefined;
  try {
    kind = describeKeyObject(key.object);
  } catch {
    kind = undefined;
  }
  let publicJwk: Jwk | null = null;
  if (kind !== undefined && kind.kty !== 'oct') {
    for (const source of [publicHalf?.object, kind.keyType === CKK.RSA || type === 'public' ? key.object : undefined]) {
      if (source === undefined || publicJwk !== null) continue;
      try {
        publicJwk = publicJwkOf(source, kind.keyType);
      } catch {
        publicJwk = null;
      }
    }
  }
  let size: number | null = null;
  if (kind?.modulusBytes !== undefined) size = kind.modulusBytes * 8;
  else if (kind?.kty === 'oct') {
    const bytes = attribute<number>(key.object, 'valueLen');
    size = bytes === null ? null : bytes * 8;
  }
  const uri = objectUri(
    token,
    { object: key.label ?? undefined, id: key.id !== null && key.id.length > 0 ? key.id : undefined, type },
    pinSource,
  );
  return {
    label: key.label,
    id: hexOf(key.id),
    type,
    kty: kind?.kty ?? null,
    crv: kind?.crv ?? null,
    size,
    kid: publicJwk === null ? null : await thumbprint(publicJwk),
    publicJwk,
    sensitive: type === 'public' ? null : attribute<boolean>(key.object, 'sensitive'),
    extractable: type === 'public' ? null : attribute<boolean>(key.object, 'extractable'),
    usages: USAGES.filter((u) => attribute<boolean>(key.object, u) === true),
    uri: formatPkcs11Uri(uri),
  };
}

/**
 * One key on a logged-in token, described as in a listing: its private or secret object, with the
 * public JWK and kid from the public object beside it (same label and id), if there is one.
 */
export async function describeTokenKey(
  token: TokenSession,
  object: SessionObject,
  keyClass: number,
  pinSource?: string,
): Promise<Pkcs11KeyInfo> {
  const key = foundOf(object, keyClass);
  return describe(token, key, publicHalvesOf(token, key)[0], pinSource);
}

/** The public objects beside a key (same label and id): the other half of its pair. */
function publicHalvesOf(token: TokenSession, key: Found): Found[] {
  return found(token, CKO.PUBLIC_KEY).filter((p) => sameKey(p, key));
}

/**
 * Destroys a key on a logged-in token: its private or secret object and the public objects beside
 * it (same label and id), the private half first, so that a failure never leaves a private key
 * without the public key that finds it.
 */
export function destroyTokenKey(token: TokenSession, object: SessionObject, keyClass: number): void {
  const halves = keyClass === CKO.PRIVATE_KEY ? publicHalvesOf(token, foundOf(object, keyClass)) : [];
  object.destroy();
  for (const half of halves) half.object.destroy();
}

/**
 * The keys on a logged-in token: each key pair once (by its private half, with the public JWK and
 * kid from its public half), each secret key, and each public key that has no private half here.
 * @example for (const key of await listTokenKeys(token)) console.log(key.label, key.kid)
 */
export async function listTokenKeys(token: TokenSession, pinSource?: string): Promise<Pkcs11KeyInfo[]> {
  const privates = found(token, CKO.PRIVATE_KEY);
  const publics = found(token, CKO.PUBLIC_KEY);
  const secrets = found(token, CKO.SECRET_KEY);
  const out: Pkcs11KeyInfo[] = [];
  const paired = new Set<Found>();
  for (const key of privates) {
    const half = publics.find((p) => !paired.has(p) && sameKey(p, key));
    if (half !== undefined) paired.add(half);
    out.push(await describe(token, key, half, pinSource));
  }
  for (const key of secrets) out.push(await describe(token, key, undefined, pinSource));
  for (const key of publics) if (!paired.has(key)) out.push(await describe(token, key, undefined, pinSource));
  return out;
}

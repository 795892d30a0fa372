import type { KeyReference } from './backend.js';
import { ErrorCode, KeymintError } from './errors.js';
import { checkJwk, isPrivateJwk, orderJwk, parseJsonObject, type Jwk, type JwkSet } from './jwk.js';

/** The `type` of a key reference file, the private file of a key that never leaves its backend. */
export const KEY_REFERENCE_TYPE = 'keymint-key-reference';

/**
 * A key reference file: the public JWK plus where the private key lives. It holds no secret.
 */
export interface KeyReferenceDocument {
  type: typeof KEY_REFERENCE_TYPE;
  version: 1;
  backend: string;
  location: Record<string, string>;
  jwk: Jwk;
}

/** What a key file turned out to hold. */
export type KeyDocument =
  | { kind: 'jwe'; text: string }
  | { kind: 'jwk'; jwk: Jwk }
  | { kind: 'jwks'; set: JwkSet }
  | { kind: 'reference'; reference: KeyReference; jwk: Jwk };

/** True when text looks like a JWE in any serialization (it may still be malformed). */
export function looksLikeJwe(text: string): boolean {
  const t = text.trim();
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t)) return true;
  return t.startsWith('{') && /"ciphertext"\s*:/.test(t);
}

/** Serializes a key reference with its public JWK, indented as keymint writes JSON. */
export function serializeReference(reference: KeyReference, publicJwk: Jwk): string {
  const doc: KeyReferenceDocument = {
    type: KEY_REFERENCE_TYPE,
    version: 1,
    backend: reference.backend,
    location: reference.location,
    jwk: orderJwk(publicJwk),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

/**
 * Tells what a key file holds: an encrypted JWK (any JWE serialization), a plain JWK, a JWK Set
 * or a key reference.
 * @throws KeymintError ERR_INPUT_INVALID when it is none of those
 * @example parseKeyDocument(await readInput('key.json'), 'key.json').kind // 'jwe'
 */
export function parseKeyDocument(text: string, source: string): KeyDocument {
  if (text.trim().length === 0) throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} is empty`);
  if (looksLikeJwe(text)) return { kind: 'jwe', text };
  const obj = parseJsonObject(text, source);
  if (obj.type === KEY_REFERENCE_TYPE) {
    if (obj.version !== 1)
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${source} is a key reference of version ${String(obj.version)}: this keymint reads version 1`,
      );
    const jwk = obj.jwk as Jwk | undefined;
    if (typeof obj.backend !== 'string' || !isStringRecord(obj.location) || typeof jwk?.kty !== 'string') {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${source} is a malformed key reference: it needs "backend", "location" and "jwk"`,
      );
    }
    // A reference is shared as harmless: its JWK must be a public key (an oct key's is metadata only).
    if (isPrivateJwk(jwk))
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${source} is a key reference whose "jwk" holds private key material: a reference holds none`,
      );
    if (jwk.kty !== 'oct') checkJwk(jwk, source);
    return { kind: 'reference', reference: { backend: obj.backend, location: obj.location }, jwk };
  }
  if (Array.isArray(obj.keys)) {
    if (!obj.keys.every((k: unknown) => typeof (k as Jwk | null)?.kty === 'string')) {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${source} is a malformed JWK Set: every member of "keys" must be a JWK with "kty"`,
      );
    }
    const set = obj as JwkSet;
    for (const [i, jwk] of set.keys.entries()) checkJwk(jwk, `${source} (keys[${i}])`);
    return { kind: 'jwks', set };
  }
  if (typeof obj.kty === 'string') {
    checkJwk(obj as Jwk, source);
    return { kind: 'jwk', jwk: obj as Jwk };
  }
  throw new KeymintError(
    ErrorCode.INPUT_INVALID,
    `${source} is not a key file: expected a JWK, a JWK Set, an encrypted JWK (JWE) or a keymint key reference`,
  );
}

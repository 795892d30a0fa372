import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';
import { ErrorCode, KeymintError } from './errors.js';

/**
 * A JSON Web Key (RFC 7517 §4). Members keymint knows are typed; others are carried through.
 */
export interface Jwk {
  kty: string;
  kid?: string;
  use?: string;
  alg?: string;
  key_ops?: string[];
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  d?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  k?: string;
  x5c?: string[];
  [member: string]: unknown;
}

/** A JWK Set (RFC 7517 §5). Members other than `keys` are kept as they are. */
export interface JwkSet {
  keys: Jwk[];
  [member: string]: unknown;
}

/** Members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The order keymint writes members in: metadata first, then key material in RFC order. */
const MEMBER_ORDER = ['kty', 'kid', 'use', 'key_ops', 'alg', 'crv', 'x', 'y', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'x5c', 'x5t', 'x5t#S256'];

/** True when the JWK carries private or secret key material. */
export function isPrivateJwk(jwk: Jwk): boolean {
  return PRIVATE_MEMBERS.some((m) => jwk[m] !== undefined);
}

/**
 * The public form of a JWK: every private member removed.
 * @throws KeymintError ERR_INPUT_INVALID for oct keys, which have no public form
 * @example toPublicJwk({ kty: 'OKP', crv: 'Ed25519', x: '...', d: '...' }) // { kty, crv, x }
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
export function toPublicJwk(jwk: Jwk): Jwk {
  if (jwk.kty === 'oct') {
    throw new KeymintError(ErrorCode.INPUT_INVALID, 'an oct key has no public part: its only member is the secret itself');
  }
  const out: Jwk = { kty: jwk.kty };
  for (const [name, value] of Object.entries(jwk)) {
    if (!(PRIVATE_MEMBERS as readonly string[]).includes(name)) out[name] = value;
  }
  return orderJwk(out);
}

/** The same JWK with its members in keymint's stable output order. */
export function orderJwk<T extends Jwk>(jwk: T): T {
  const out: Record<string, unknown> = {};
  for (const name of MEMBER_ORDER) if (jwk[name] !== undefined) out[name] = jwk[name];
  for (const [name, value] of Object.entries(jwk)) if (!(name in out) && value !== undefined) out[name] = value;
  return out as T;
}

/** A short human description: "EC P-256", "RSA 2048", "oct 256". */
export function describeJwk(jwk: Jwk): string {
  if (typeof jwk.crv === 'string') return `${jwk.kty} ${jwk.crv}`;
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string') return `RSA ${bitLength(jwk.n)}`;
  if (jwk.kty === 'oct' && typeof jwk.k === 'string') return `oct ${Buffer.from(jwk.k, 'base64url').length * 8}`;
  return jwk.kty;
}

function bitLength(base64url: string): number {
  const bytes = Buffer.from(base64url, 'base64url');
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i] ?? 0));
}

/** Size in bits of an RSA modulus or oct key, for rules that depend on it. */
export function keySizeBits(jwk: Jwk): number | undefined {
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string') return bitLength(jwk.n);
  if (jwk.kty === 'oct' && typeof jwk.k === 'string') return Buffer.from(jwk.k, 'base64url').length * 8;
  return undefined;
}

/** Deepest JSON nesting keymint reads: a JWK Set is three levels deep; more only costs stack. */
export const MAX_JSON_DEPTH = 32;

/** How deeply arrays and objects nest in JSON text, counted without parsing it. */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') deepest = Math.max(deepest, ++depth);
    else if (ch === '}' || ch === ']') depth--;
  }
  return deepest;
}

/**
 * Refuses JSON nested deeper than any key file, before it is parsed: deep nesting only serves to
 * exhaust the stack of whoever parses or prints it.
 * @throws KeymintError ERR_INPUT_INVALID
 */
export function assertJsonDepth(text: string, source: string): void {
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} nests JSON more than ${MAX_JSON_DEPTH} levels deep: no key file does`);
  }
}

/**
 * Parses text that must hold one JSON object; the message names `source` on failure.
 * @throws KeymintError ERR_INPUT_INVALID
 */
export function parseJsonObject(text: string, source: string): Record<string, unknown> {
  assertJsonDepth(text, source);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Members that hold key material as base64url (RFC 7518 §6, RFC 8037 §2). */
const MATERIAL_MEMBERS = ['x', 'y', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

/**
 * Checks that a JWK of a type keymint knows is a real key: base64url material, and for EC, OKP
 * and RSA a key OpenSSL accepts (a known curve, a point on it, consistent private members).
 * JWKs of other types pass unchecked.
 * @throws KeymintError ERR_INPUT_INVALID naming `source`
 * @example checkJwk(JSON.parse(text), 'key.json');
 */
export function checkJwk(jwk: Jwk, source: string): void {
  const invalid = (why: string, cause?: unknown) =>
    new KeymintError(ErrorCode.INPUT_INVALID, `${source} holds an invalid ${jwk.kty} key: ${why}`, cause === undefined ? {} : { cause });
  for (const member of MATERIAL_MEMBERS) {
    const value = jwk[member];
    if (value !== undefined && (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value))) throw invalid(`"${member}" is not base64url`);
  }
  if (jwk.kty === 'oct') {
    if (jwk.k === undefined) throw invalid('it has no "k"');
    return;
  }
  if (jwk.kty !== 'EC' && jwk.kty !== 'OKP' && jwk.kty !== 'RSA') return;
  let matches = true;
  try {
    const pub = createPublicKey({ key: toPublicJwk(jwk) as JsonWebKey, format: 'jwk' });
    if (isPrivateJwk(jwk)) {
      // OpenSSL takes private members it cannot use (an EC "d" that is too long, a "d" of
      // another key): exporting the key, and using it against the public half, shows which.
      const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
      key.export({ format: 'der', type: 'pkcs8' });
      if (jwk.crv === 'X25519' || jwk.crv === 'X448') {
        matches = (createPublicKey(key).export({ format: 'jwk' }) as Jwk).x === jwk.x;
      } else {
        const hash = jwk.kty === 'OKP' ? null : 'sha256';
        const probe = Buffer.from('keymint key check');
        matches = verify(hash, probe, pub, sign(hash, probe, key));
      }
    }
  } catch (cause) {
    const curve = typeof jwk.crv === 'string' ? ` (crv "${jwk.crv}")` : '';
    throw invalid(`OpenSSL does not accept it${curve}`, cause);
  }
  if (!matches) throw invalid('its private members do not belong to its public members');
}

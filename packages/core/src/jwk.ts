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

/**
 * Parses text that must hold one JSON object; the message names `source` on failure.
 * @throws KeymintError ERR_INPUT_INVALID
 */
export function parseJsonObject(text: string, source: string): Record<string, unknown> {
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

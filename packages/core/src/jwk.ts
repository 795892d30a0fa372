import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';
import { ErrorCode, KeymintError, message, oneOf, param, type MessageParts } from './errors.js';
import { EC_CURVES, OKP_CURVES, SIZE_LIMITS, curveBytes, isCurve, ktyOfCurve } from './params.js';

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

/** The key members of the public form of each key type keymint knows (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2). */
const PUBLIC_KEY_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'x', 'y'],
  RSA: ['n', 'e'],
  OKP: ['crv', 'x'],
};

/** Members that describe a key rather than hold it (RFC 7517 §4); they are public whatever the key type. */
const METADATA_MEMBERS = ['kid', 'use', 'key_ops', 'alg', 'x5u', 'x5c', 'x5t', 'x5t#S256'];

/** The order keymint writes members in: metadata first, then key material in RFC order. */
const MEMBER_ORDER = [
  'kty',
  'kid',
  'use',
  'key_ops',
  'alg',
  'crv',
  'x',
  'y',
  'n',
  'e',
  'd',
  'p',
  'q',
  'dp',
  'dq',
  'qi',
  'k',
  'x5c',
  'x5t',
  'x5t#S256',
];

/** True when the JWK carries private or secret key material. */
export function isPrivateJwk(jwk: Jwk): boolean {
  return PRIVATE_MEMBERS.some((m) => jwk[m] !== undefined);
}

/**
 * The public form of a JWK: its type's public members and the metadata members, nothing else. It is
 * built from what is known to be public, not by removing what is known to be private, so a member
 * keymint does not know (a vendor's, a draft's) never reaches a public key.
 * @throws KeymintError ERR_INPUT_INVALID for oct keys, which have no public form;
 *   ERR_ALG_NOT_SUPPORTED for a key type keymint does not know (its public members are unknown)
 * @example toPublicJwk({ kty: 'OKP', crv: 'Ed25519', x: '...', d: '...' }) // { kty, crv, x }
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
export function toPublicJwk(jwk: Jwk): Jwk {
  if (jwk.kty === 'oct') {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      'an oct key has no public part: its only member is the secret itself',
    );
  }
  const members = Object.hasOwn(PUBLIC_KEY_MEMBERS, jwk.kty) ? PUBLIC_KEY_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `keymint does not know the key type ${JSON.stringify(jwk.kty)}, so it cannot tell its public members from its private ones`,
      { hint: 'keymint reads EC, RSA, OKP and oct keys' },
    );
  }
  const out: Jwk = { kty: jwk.kty };
  for (const name of [...members, ...METADATA_MEMBERS]) if (jwk[name] !== undefined) out[name] = jwk[name];
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

function bitLength(value: string | Buffer): number {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'base64url') : value;
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

interface JsonShape {
  /** How deeply arrays and objects nest. */
  depth: number;
  /** The first member name an object has twice, if any. */
  duplicate: string | undefined;
}

/**
 * Walks JSON text without parsing it: how deep it nests, and whether an object names a member
 * twice. Meant for text JSON.parse then accepts; on other text the answer does not matter.
 */
function jsonShape(text: string): JsonShape {
  const objects: (Set<string> | undefined)[] = [];
  let expectName = false;
  let deepest = 0;
  let duplicate: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const names = objects[objects.length - 1];
      if (expectName && names !== undefined && duplicate === undefined) {
        let name: string;
        try {
          name = JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          continue;
        }
        // "\u0061" and "a" are one name: compared decoded, as every parser will see them.
        if (names.has(name)) duplicate = name;
        names.add(name);
      }
      expectName = false;
    } else if (ch === '{' || ch === '[') {
      objects.push(ch === '{' ? new Set() : undefined);
      expectName = ch === '{';
      deepest = Math.max(deepest, objects.length);
    } else if (ch === '}' || ch === ']') {
      objects.pop();
    } else if (ch === ',') {
      expectName = objects[objects.length - 1] !== undefined;
    }
  }
  return { depth: deepest, duplicate };
}

/**
 * Refuses JSON nested deeper than any key file, before it is parsed: deep nesting only serves to
 * exhaust the stack of whoever parses or prints it.
 * @throws KeymintError ERR_INPUT_INVALID
 */
export function assertJsonDepth(text: string, source: string): void {
  if (jsonShape(text).depth > MAX_JSON_DEPTH) throw tooDeep(source);
}

function tooDeep(source: string): KeymintError {
  return new KeymintError(
    ErrorCode.INPUT_INVALID,
    `${source} nests JSON more than ${MAX_JSON_DEPTH} levels deep: no key file does`,
  );
}

/**
 * Parses text that must hold one JSON object; the message names `source` on failure. An object
 * that names a member twice is refused: parsers disagree on which of the two counts (RFC 8259
 * §4), and a token or key that means one thing to keymint and another to a server is an attack.
 * @throws KeymintError ERR_INPUT_INVALID
 */
export function parseJsonObject(text: string, source: string): Record<string, unknown> {
  const shape = jsonShape(text);
  if (shape.depth > MAX_JSON_DEPTH) throw tooDeep(source);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} is not a JSON object`);
  }
  if (shape.duplicate !== undefined) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${source} names the member ${JSON.stringify(shape.duplicate)} twice: it is ambiguous, so keymint refuses it`,
    );
  }
  return value as Record<string, unknown>;
}

/** Members that hold key material as base64url (RFC 7518 §6, RFC 8037 §2). */
const MATERIAL_MEMBERS = ['x', 'y', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

/** The largest RSA public exponent keymint accepts: FIPS 186-5 §A.1.1 bounds e below 2^256. */
const MAX_RSA_EXPONENT_BITS = 256;

export interface CheckJwkOptions {
  /** Accept RSA moduli down to 512 bits, as `create --insecure` does. */
  insecure?: boolean;
}

const base64urlBytes = (value: unknown) => Buffer.from(value as string, 'base64url');

/** The value of big-endian bytes, for the few RSA checks OpenSSL does not make. */
function bigIntOf(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

/**
 * The checks that are cheap and need no OpenSSL: the members a key type requires, their lengths,
 * and the RSA rules OpenSSL does not enforce (it takes e = 1, which verifies forged signatures).
 * They run first, so that nothing expensive (an RSA operation on a 65536-bit modulus) ever sees a
 * key outside the bounds. Returns why the key is refused, or undefined.
 */
function shapeProblem(jwk: Jwk, options: CheckJwkOptions): string | MessageParts | undefined {
  if (jwk.kty === 'oct')
    return jwk.k === undefined || base64urlBytes(jwk.k).length === 0 ? 'its "k" is missing or empty' : undefined;
  if (jwk.kty === 'EC' || jwk.kty === 'OKP') {
    const crv = jwk.crv;
    if (typeof crv !== 'string' || !isCurve(crv) || ktyOfCurve(crv) !== jwk.kty) {
      return `its "crv" ${JSON.stringify(crv)} is not a curve for ${jwk.kty} keys: use ${oneOf(jwk.kty === 'EC' ? EC_CURVES : OKP_CURVES)}`;
    }
    const bytes = curveBytes(crv);
    for (const member of jwk.kty === 'EC' ? ['x', 'y', 'd'] : ['x', 'd']) {
      const value = jwk[member];
      if (value === undefined && member === 'd') continue;
      if (value === undefined) return `it has no "${member}"`;
      const length = base64urlBytes(value).length;
      if (length !== bytes) return `its "${member}" is ${length} bytes long, and a ${crv} key's is ${bytes}`;
    }
    return undefined;
  }
  if (jwk.kty !== 'RSA') return undefined;
  if (jwk.n === undefined || jwk.e === undefined) return 'it needs both "n" and "e"';
  if (jwk.oth !== undefined) return 'it is a multi-prime key ("oth"), which keymint does not use';
  const n = base64urlBytes(jwk.n);
  const bits = bitLength(n);
  const limits = SIZE_LIMITS.RSA;
  const min = options.insecure ? limits.insecureMin : limits.min;
  if (bits < min || bits > limits.max) {
    const text = message`its modulus is ${bits} bits long: keymint accepts ${min} to ${limits.max} bits`;
    return !options.insecure && bits >= limits.insecureMin && bits < limits.min
      ? [...text, ...message` (down to ${limits.insecureMin} only with ${param('insecure')})`]
      : text;
  }
  if (((n[n.length - 1] ?? 0) & 1) === 0) return 'its modulus "n" is even: no RSA modulus is';
  const e = base64urlBytes(jwk.e);
  const eValue = e.length * 8 > MAX_RSA_EXPONENT_BITS + 8 ? undefined : bigIntOf(e);
  if (eValue === undefined || eValue < 3n || (eValue & 1n) === 0n || eValue >= 1n << BigInt(MAX_RSA_EXPONENT_BITS)) {
    return 'its public exponent "e" is not an odd number from 3 to 2^256 (65537 in practice): such a key makes forged signatures verify';
  }
  const modulusBytes = Math.ceil(bits / 8);
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) {
    const value = jwk[member];
    if (value !== undefined && base64urlBytes(value).length > modulusBytes)
      return `its "${member}" is longer than its modulus`;
  }
  // A product of big integers costs microseconds; the RSA operation that would otherwise find the
  // mismatch costs up to a second on a 16384-bit key.
  if (
    jwk.p !== undefined &&
    jwk.q !== undefined &&
    bigIntOf(base64urlBytes(jwk.p)) * bigIntOf(base64urlBytes(jwk.q)) !== bigIntOf(n)
  ) {
    return 'its primes "p" and "q" do not multiply to its modulus "n"';
  }
  return undefined;
}

/**
 * Checks that a JWK of a type keymint knows is a real, safe key before it is used: base64url
 * material; oct: a non-empty "k"; EC and OKP: a known curve of that type, coordinates and keys of
 * exactly the curve's length, a point on the curve; RSA: an odd modulus of 2048 to 16384 bits
 * (512 with `insecure`), an odd public exponent from 3 to 2^256, private members no longer than
 * the modulus; and for private keys, members that belong together. The cheap rules run first, so a
 * hostile key is refused before any RSA or EC operation. JWKs of other types pass unchecked (the
 * commands that need their public form refuse them: see `toPublicJwk`).
 * @throws KeymintError ERR_INPUT_INVALID naming `source` and what is wrong
 * @example checkJwk(JSON.parse(text), 'key.json');
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-6, https://www.rfc-editor.org/rfc/rfc8037#section-2
 */
export function checkJwk(jwk: Jwk, source: string, options: CheckJwkOptions = {}): void {
  // The kty is echoed only when it is one keymint knows: a hostile one could hold anything.
  const kind = ['EC', 'OKP', 'RSA', 'oct'].includes(jwk.kty as string) ? `${jwk.kty as string} key` : 'key';
  const invalid = (why: string | MessageParts, cause?: unknown) =>
    new KeymintError(
      ErrorCode.INPUT_INVALID,
      [`${source} holds an invalid ${kind}: `, ...(typeof why === 'string' ? [why] : why)],
      cause === undefined ? {} : { cause },
    );
  for (const member of MATERIAL_MEMBERS) {
    const value = jwk[member];
    if (value !== undefined && (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value)))
      throw invalid(`"${member}" is not base64url`);
  }
  const problem = shapeProblem(jwk, options);
  if (problem !== undefined) throw invalid(problem);
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
    const why =
      jwk.kty === 'EC'
        ? `: the point is not on the curve${isPrivateJwk(jwk) ? ', or "d" is not a private key of it' : ''}`
        : '';
    throw invalid(`OpenSSL does not accept it${curve}${why}`, cause);
  }
  if (!matches) throw invalid('its private members do not belong to its public members');
}

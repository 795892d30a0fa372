import { randomUUID } from 'node:crypto';
import { ErrorCode, KeymintError, message, param, type MessageParts } from './errors.js';
import { describeJwk, type Jwk } from './jwk.js';
import type { OpenedKey } from './open-key.js';
import { assertAlgorithmFits, isCurve, signatureAlgorithmOfCurve, useOfAlgorithm } from './params.js';

const DEFAULT_SIG_ALG: Record<string, string> = { RSA: 'RS256', oct: 'HS256' };
/** Header members keymint sets itself; a caller may not override them. */
const RESERVED_HEADERS = new Set(['alg', 'b64', 'crit']);
/** The registered claims (RFC 7519 §4.1) that have their own options. */
export const REGISTERED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'] as const;

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

function notForSigning(jwk: Jwk, why: string): KeymintError {
  return new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `this ${describeJwk(jwk)} key ${why}: it cannot sign`, {
    hint: message`use a key made for signing (${param('use')} sig)`,
  });
}

/**
 * The algorithm a key signs with: the one asked for, else the key's own `alg`, else the default
 * of its type (ES256 for P-256 ...). It must fit the key: its type and curve, its `alg` member when
 * it has one (RFC 7517 §4.4: a verifier that knows the key expects that algorithm), and its `use`
 * and `key_ops`, which must allow signing.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED when it does not fit
 * @example signingAlgorithm({ kty: 'EC', crv: 'P-384' }) // 'ES384'
 */
export function signingAlgorithm(jwk: Jwk, requested?: string): string {
  if (jwk.use === 'enc') throw notForSigning(jwk, 'is for encryption ("use": "enc")');
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('sign'))
    throw notForSigning(jwk, `has "key_ops" ${JSON.stringify(jwk.key_ops)} without "sign"`);
  const own = typeof jwk.alg === 'string' ? jwk.alg : undefined;
  if (own !== undefined && useOfAlgorithm(own) === 'enc') throw notForSigning(jwk, `is for ${own} (encryption)`);
  if (requested !== undefined && own !== undefined && requested !== own) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      message`${param('alg')} ${requested} does not fit the key, whose "alg" is ${own}: verifiers that know the key expect ${own}`,
      {
        param: 'alg',
        hint: message`leave out ${param('alg')}, or use a key made for ${requested}`,
      },
    );
  }
  let alg = requested ?? own;
  if (alg === undefined) {
    alg =
      typeof jwk.crv === 'string' && isCurve(jwk.crv) ? signatureAlgorithmOfCurve(jwk.crv) : DEFAULT_SIG_ALG[jwk.kty];
  }
  if (alg === undefined) throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `a ${describeJwk(jwk)} key cannot sign`);
  assertAlgorithmFits(jwk, alg);
  return alg;
}

export interface SignOptions {
  /** The JWS algorithm; default: see `signingAlgorithm`. */
  alg?: string;
  /** Extra protected header members (typ, cty, x5t ...); alg is always keymint's. */
  header?: Record<string, unknown>;
}

/**
 * Signs a payload into a compact JWS with a key from any backend; the header carries the key's
 * kid. The signature is made by the backend that holds the key (an HSM key never leaves it).
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED, ERR_PARAM_INVALID (a reserved header), backend errors
 * @example const jws = await signCompact(key, new TextEncoder().encode('hello'), { alg: 'ES256' });
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 */
export async function signCompact(key: OpenedKey, payload: Uint8Array, options: SignOptions = {}): Promise<string> {
  const alg = signingAlgorithm(key.jwk, options.alg);
  for (const name of Object.keys(options.header ?? {})) {
    if (RESERVED_HEADERS.has(name))
      throw new KeymintError(ErrorCode.PARAM_INVALID, `the "${name}" header is set by keymint and cannot be given`);
  }
  const header: Record<string, unknown> = { alg };
  if (typeof key.jwk.kid === 'string') header.kid = key.jwk.kid;
  Object.assign(header, options.header);
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(payload)}`;
  const signature = await key.backend.sign(key.private, alg, new TextEncoder().encode(signingInput));
  return `${signingInput}.${b64url(signature)}`;
}

/**
 * Signs a JWT: the claims as the JWS payload, `typ: JWT` in the header unless the caller sets one.
 * @throws KeymintError as `signCompact`
 * @example await signJwt(key, jwtClaims({ iss: 'me', sub: 'me', aud: 'you' }))
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.1
 */
export async function signJwt(
  key: OpenedKey,
  claims: Record<string, unknown>,
  options: SignOptions = {},
): Promise<string> {
  return signCompact(key, new TextEncoder().encode(JSON.stringify(claims)), {
    ...options,
    header: { typ: 'JWT', ...options.header },
  });
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration as given on a command line: seconds, or a number with s, m, h or d.
 * @throws KeymintError ERR_PARAM_INVALID naming `flag`
 * @example parseDuration('5m', '--exp') // 300
 */
export function parseDuration(text: string, flag: string): number {
  const match = /^([0-9]{1,9})([smhd]?)$/.exec(text.trim());
  const seconds = match === null ? Number.NaN : Number(match[1]) * (DURATION_UNITS[match[2] || 's'] ?? Number.NaN);
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new KeymintError(
      ErrorCode.PARAM_INVALID,
      `${flag} "${text}" is not a duration: give a positive number of seconds, or a number with s, m, h or d (e.g. 30s, 5m, 1h)`,
    );
  }
  return seconds;
}

/**
 * The latest NumericDate keymint writes: 9999-12-31T23:59:59Z, the last instant an ISO 8601 date
 * with a four-digit year can name. Later dates are valid JSON numbers, but no reader shows them.
 */
export const MAX_NUMERIC_DATE = 253_402_300_799;

/** A NumericDate for people: the ISO 8601 time, or the number itself beyond what a date can show. */
export function formatNumericDate(seconds: number): string {
  if (Number.isFinite(seconds) && Math.abs(seconds) <= MAX_NUMERIC_DATE)
    return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
  return `${seconds} s from 1970 (beyond the dates an ISO 8601 time can show)`;
}

/** The current time as a NumericDate (RFC 7519 §2): whole seconds since the epoch. */
export function numericDate(now: Date = new Date()): number {
  return Math.floor(now.getTime() / 1000);
}

export interface JwtClaimsInput {
  iss?: string;
  sub?: string;
  /** One audience, or several (an array in the token). */
  aud?: string | readonly string[];
  /** Lifetime in seconds from `now`: sets exp. */
  expiresIn?: number;
  /** nbf: 0 (or true) means `now`; a number of seconds puts it that far after `now`. */
  notBefore?: number | boolean;
  /** The jti; "auto" (the default) is a random UUID; null leaves it out. */
  jti?: string | null;
  /** Other claims; the registered ones have their own fields and are refused here. */
  extra?: Record<string, unknown>;
  now?: Date;
}

function invalidParam(name: string, text: MessageParts, hint?: string): KeymintError {
  return new KeymintError(ErrorCode.PARAM_INVALID, text, hint === undefined ? { param: name } : { param: name, hint });
}

/**
 * The claims of a JWT: iss, sub, aud, iat, exp, nbf, jti, then the extra claims.
 * @throws KeymintError ERR_PARAM_INVALID for an empty value or an extra claim that is a registered one
 * @example jwtClaims({ iss: 'a', sub: 'a', aud: 'https://as/token', expiresIn: 300 })
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-4.1
 */
export function jwtClaims(input: JwtClaimsInput): Record<string, unknown> {
  const iat = numericDate(input.now);
  const claims: Record<string, unknown> = {};
  for (const name of ['iss', 'sub'] as const) {
    const value = input[name];
    if (value === undefined) continue;
    if (value.length === 0) throw invalidParam(name, message`${param(name)} must not be empty`);
    claims[name] = value;
  }
  if (input.aud !== undefined) {
    const list = typeof input.aud === 'string' ? [input.aud] : [...input.aud];
    if (list.length === 0 || list.some((a) => a.length === 0))
      throw invalidParam('aud', message`${param('aud')} must not be empty`);
    claims.aud = list.length === 1 ? list[0] : list;
  }
  claims.iat = iat;
  const at = (seconds: number, claim: 'exp' | 'nbf') => {
    if (iat + seconds > MAX_NUMERIC_DATE) {
      const text = message`${param(claim)} ${seconds} s puts the token's ${claim} after ${formatNumericDate(MAX_NUMERIC_DATE)}, beyond the dates a verifier can show`;
      throw invalidParam(claim, text, 'give a shorter duration');
    }
    return iat + seconds;
  };
  if (input.expiresIn !== undefined) claims.exp = at(input.expiresIn, 'exp');
  if (input.notBefore !== undefined && input.notBefore !== false)
    claims.nbf = at(input.notBefore === true ? 0 : input.notBefore, 'nbf');
  const jti = input.jti === undefined || input.jti === 'auto' ? randomUUID() : input.jti;
  if (jti !== null) {
    if (jti.length === 0)
      throw invalidParam('jti', message`${param('jti')} must not be empty: give a value, or auto for a random one`);
    claims.jti = jti;
  }
  for (const [name, value] of Object.entries(input.extra ?? {})) {
    if ((REGISTERED_CLAIMS as readonly string[]).includes(name))
      throw invalidParam('claim', message`the "${name}" claim has its own option: use ${param(name)}`);
    claims[name] = value;
  }
  return claims;
}

export interface ClientAssertionInput {
  clientId: string;
  /** The authorization server's token endpoint URL: the audience. */
  tokenEndpoint: string;
  /** Lifetime in seconds; default 60: an assertion is used once, right away. */
  expiresIn?: number;
  /** Default: a random UUID (RFC 7523 §3 item 7 lets the server refuse replays by it). */
  jti?: string;
  /** Allow an http token endpoint on a host other than localhost (a development server on a LAN or in Docker). */
  insecure?: boolean;
  now?: Date;
}

/** Default lifetime of a client assertion, in seconds. */
export const CLIENT_ASSERTION_LIFETIME = 60;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The claims of an OAuth client assertion (`private_key_jwt`): iss and sub the client ID, aud the
 * token endpoint, a unique jti, iat, and a short exp.
 * @throws KeymintError ERR_PARAM_INVALID for an empty client ID, or a token endpoint that has a
 *   fragment or is not an https URL (http for localhost, and elsewhere only with `insecure`)
 * @example clientAssertionClaims({ clientId: 's6BhdRkqt3', tokenEndpoint: 'https://server.example.com/token' })
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export function clientAssertionClaims(input: ClientAssertionInput): Record<string, unknown> {
  if (input.clientId.length === 0) throw invalidParam('clientId', message`${param('clientId')} must not be empty`);
  let url: URL;
  try {
    url = new URL(input.tokenEndpoint);
  } catch {
    throw invalidParam(
      'tokenEndpoint',
      message`${param('tokenEndpoint')} "${input.tokenEndpoint}" is not a URL: give the authorization server's token endpoint, e.g. https://as.example.com/oauth2/token`,
    );
  }
  if (url.hash !== '' || input.tokenEndpoint.includes('#')) {
    throw invalidParam(
      'tokenEndpoint',
      message`${param('tokenEndpoint')} "${input.tokenEndpoint}" has a fragment ("#..."), which a token endpoint URI must not have (RFC 6749 §3.2)`,
    );
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (loopback || input.insecure === true))) {
    throw invalidParam(
      'tokenEndpoint',
      message`${param('tokenEndpoint')} "${input.tokenEndpoint}" is not an https URL: a token endpoint must use TLS (RFC 6749 §3.2); http is allowed for localhost, and for another host only with ${param('insecure')} (a development server)`,
    );
  }
  return jwtClaims({
    iss: input.clientId,
    sub: input.clientId,
    aud: input.tokenEndpoint,
    expiresIn: input.expiresIn ?? CLIENT_ASSERTION_LIFETIME,
    jti: input.jti ?? 'auto',
    ...(input.now === undefined ? {} : { now: input.now }),
  });
}

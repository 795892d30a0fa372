import {
  constants,
  createPublicKey,
  createSecretKey,
  timingSafeEqual,
  createHmac,
  verify as nodeVerify,
} from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { compactVerify, errors as joseErrors, importJWK } from 'jose';
import { ErrorCode, KeymintError } from './errors.js';
import { checkJwk, describeJwk, parseJsonObject, toPublicJwk, type Jwk, type JwkSet } from './jwk.js';
import { signatureScheme } from './jwa.js';
import { formatNumericDate, numericDate } from './jws.js';
import { assertAlgorithmFits } from './params.js';

/** Which implementation checked a signature: jose where it knows the algorithm, else OpenSSL via Node. */
export type Verifier = 'jose' | 'node';

/** Algorithms jose 6 no longer implements: ES256K, and EdDSA over Ed448. */
function joseLacks(jwk: Jwk, alg: string): boolean {
  return alg === 'ES256K' || (alg === 'EdDSA' && jwk.crv === 'Ed448');
}

/**
 * Verifies a compact JWS with the public JWK (or, for HMAC, the secret JWK), using jose; for the
 * algorithms jose 6 dropped (ES256K, Ed448) it uses Node's OpenSSL. The header's alg must be `alg`.
 * @throws KeymintError ERR_INPUT_INVALID for a malformed JWS or key
 * @example (await verifyCompactJws(jws, publicJwk, 'ES256')).valid
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-5.2
 */
export async function verifyCompactJws(
  jws: string,
  jwk: Jwk,
  alg: string,
): Promise<{ valid: boolean; verifier: Verifier }> {
  if (joseLacks(jwk, alg)) return { valid: verifyWithNode(jws, jwk, alg), verifier: 'node' };
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
  } catch (error) {
    if (!(error instanceof joseErrors.JOSENotSupported) && !(error instanceof TypeError)) {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `the ${describeJwk(jwk)} key cannot verify ${alg}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return { valid: verifyWithNode(jws, jwk, alg), verifier: 'node' };
  }
  try {
    await compactVerify(jws, key, { algorithms: [alg] });
    return { valid: true, verifier: 'jose' };
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JOSEAlgNotAllowed)
      return { valid: false, verifier: 'jose' };
    if (error instanceof joseErrors.JOSEError)
      throw new KeymintError(ErrorCode.INPUT_INVALID, `the JWS is malformed: ${error.message}`, { cause: error });
    throw error;
  }
}

function verifyWithNode(jws: string, jwk: Jwk, alg: string): boolean {
  const decoded = decodeCompactJws(jws);
  if (decoded.header.alg !== alg) return false;
  const data = Buffer.from(decoded.signingInput);
  const sig = Buffer.from(decoded.signature);
  const scheme = signatureScheme(alg);
  try {
    if (scheme.family === 'hmac') {
      const expected = createHmac(scheme.hash as string, createSecretKey(Buffer.from(jwk.k ?? '', 'base64url')))
        .update(data)
        .digest();
      return expected.length === sig.length && timingSafeEqual(expected, sig);
    }
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    switch (scheme.family) {
      case 'rsa-pkcs1':
        return nodeVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
      case 'rsa-pss':
        return nodeVerify(
          scheme.hash,
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
          sig,
        );
      case 'ecdsa':
        return nodeVerify(scheme.hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
      case 'eddsa':
        return nodeVerify(null, data, key, sig);
    }
  } catch (cause) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the ${describeJwk(jwk)} key cannot verify ${alg}: it is malformed`,
      { cause },
    );
  }
}

/** A compact JWS taken apart, before any check of its signature. */
export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Uint8Array;
  /** `BASE64URL(header) || '.' || BASE64URL(payload)`, what the signature covers. */
  signingInput: string;
  signature: Uint8Array;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function malformed(message: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `the token is not a compact JWS: ${message}`);
}

/**
 * Splits a compact JWS into its header, payload and signature, checking only its form.
 * @throws KeymintError ERR_INPUT_INVALID when it is not three base64url parts with a JSON header
 * @example decodeCompactJws(token).header.kid
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 */
export function decodeCompactJws(token: string): DecodedJws {
  const parts = token.trim().split('.');
  if (parts.length !== 3) {
    throw malformed(
      parts.length === 5
        ? 'it has five parts, as an encrypted JWE has'
        : `it has ${parts.length} dot-separated part${parts.length === 1 ? '' : 's'}, not three`,
    );
  }
  const [header, payload, signature] = parts as [string, string, string];
  if (!parts.every((p) => B64URL.test(p))) throw malformed('a part is not base64url');
  if (header.length === 0) throw malformed('the header is empty');
  return {
    header: parseJsonObject(Buffer.from(header, 'base64url').toString('utf8'), 'the token header'),
    payload: new Uint8Array(Buffer.from(payload, 'base64url')),
    signingInput: `${header}.${payload}`,
    signature: new Uint8Array(Buffer.from(signature, 'base64url')),
  };
}

/** Default clock skew allowed when checking exp and nbf, in seconds. */
export const DEFAULT_LEEWAY = 60;

export interface VerifyTokenOptions {
  /** Seconds of clock skew allowed for exp and nbf; default 60. */
  leeway?: number;
  /** The time to check exp and nbf against; default now. */
  now?: Date;
  /** Name of the key input, for messages. */
  source?: string;
}

/** A JWS or JWT whose signature verified. */
export interface VerifiedToken {
  header: Record<string, unknown>;
  alg: string;
  payload: Uint8Array;
  /** The claims, when the token is a JWT (typ JWT, or a JSON payload with registered claims). */
  claims: Record<string, unknown> | undefined;
  /** The key that verified it (public form; an oct key as it is). */
  key: Jwk;
  verifier: Verifier;
}

function invalid(message: string, hint?: string): KeymintError {
  return new KeymintError(ErrorCode.SIGNATURE_INVALID, message, hint === undefined ? {} : { hint });
}

const JWT_TYP = /^(application\/)?([a-z0-9.-]+\+)?jwt$/i;
const CLAIM_NAMES = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'];

/**
 * The claims of a JWT payload, or undefined when the token is a plain JWS. A payload that is a JSON
 * object carrying a registered claim is a JWT whatever its header says (RFC 7519 §5.1: typ is
 * optional), also behind a UTF-8 byte order mark, which some encoders add and JSON.parse rejects.
 * @throws KeymintError ERR_INPUT_INVALID for claims that name a member twice
 */
function jwtClaimsOf(header: Record<string, unknown>, payload: Uint8Array): Record<string, unknown> | undefined {
  const typed = typeof header.typ === 'string' && JWT_TYP.test(header.typ);
  const text = Buffer.from(payload)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  // Parsed again, strictly: a claim named twice, or nesting no claims set has, is refused.
  const claims = isObject ? parseJsonObject(text, 'the token payload') : undefined;
  if (typed && claims === undefined)
    throw invalid(
      `the token says it is a JWT (typ ${String(header.typ)}) but its payload is not a JSON object of claims`,
    );
  if (claims === undefined) return undefined;
  return typed || CLAIM_NAMES.some((c) => Object.hasOwn(claims, c)) ? claims : undefined;
}

/** RFC 7519 §4.1.4, §4.1.5: exp and nbf with a leeway for clock skew. */
function checkTimes(claims: Record<string, unknown>, options: VerifyTokenOptions): void {
  const now = numericDate(options.now);
  const leeway = options.leeway ?? DEFAULT_LEEWAY;
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))
      throw invalid(`the token's "${name}" claim is not a number (a NumericDate)`);
  }
  const exp = claims.exp as number | undefined;
  const nbf = claims.nbf as number | undefined;
  if (exp !== undefined && now >= exp + leeway)
    throw invalid(`the token expired at ${formatNumericDate(exp)}`, `it is now ${formatNumericDate(now)}`);
  if (nbf !== undefined && now + leeway < nbf)
    throw invalid(`the token is not valid before ${formatNumericDate(nbf)}`, `it is now ${formatNumericDate(now)}`);
}

/** Why a key cannot have made a token's signature, or undefined when it can. */
function unfit(jwk: Jwk, alg: string): string | undefined {
  if (jwk.use === 'enc') return 'it is an encryption key ("use": "enc")';
  if (typeof jwk.alg === 'string' && jwk.alg !== alg) return `it is for ${jwk.alg}`;
  try {
    assertAlgorithmFits(jwk, alg);
  } catch {
    return `${alg} does not fit a ${describeJwk(jwk)} key`;
  }
  return undefined;
}

function describeKey(jwk: Jwk): string {
  return typeof jwk.kid === 'string' ? `key "${jwk.kid}"` : `the ${describeJwk(jwk)} key`;
}

/**
 * Verifies a compact JWS or JWT against a key or a JWK Set: a set's key is chosen by the token's
 * kid (without a kid, every key that fits the alg is tried). The token's alg must fit the key
 * (no HS256 with an RSA key, no "none"), and for a JWT exp and nbf must hold, with a leeway.
 * @throws KeymintError ERR_SIGNATURE_INVALID when the token is not valid, also when no key has the
 *   token's kid; ERR_INPUT_INVALID for a malformed token or key
 * @example const { claims } = await verifyToken(jwt, await publicOf(doc, { source }));
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-5.2, https://www.rfc-editor.org/rfc/rfc7519#section-7.2
 */
export async function verifyToken(
  token: string,
  keys: Jwk | JwkSet,
  options: VerifyTokenOptions = {},
): Promise<VerifiedToken> {
  const source = options.source ?? 'the key';
  const decoded = decodeCompactJws(token);
  const { header } = decoded;
  const alg = header.alg;
  if (typeof alg !== 'string') throw invalid('the token header has no "alg"');
  if (alg === 'none') throw invalid('the token is not signed ("alg": "none")');
  try {
    signatureScheme(alg);
  } catch {
    throw invalid(`the token's alg "${alg}" is not a signature algorithm keymint verifies`);
  }
  if (header.crit !== undefined)
    throw invalid(`the token has "crit" header extensions keymint does not understand: ${JSON.stringify(header.crit)}`);
  const kid = typeof header.kid === 'string' ? header.kid : undefined;

  let candidates: Jwk[];
  if (Array.isArray((keys as JwkSet).keys)) {
    const set = (keys as JwkSet).keys;
    candidates = kid === undefined ? set : set.filter((k) => k.kid === kid);
    if (candidates.length === 0) {
      // Not valid for this set, whatever the reason: a verifier answers valid or not valid (exit 0 or 18).
      throw invalid(
        kid === undefined
          ? `${source} holds no keys`
          : `${source} has no key with kid "${kid}", the kid in the token's header`,
      );
    }
  } else {
    const jwk = keys as Jwk;
    if (kid !== undefined && typeof jwk.kid === 'string' && jwk.kid !== kid) {
      throw invalid(`the token was signed by key "${kid}", but ${source} is key "${jwk.kid}"`);
    }
    candidates = [jwk];
  }
  const fitting = candidates.filter((k) => unfit(k, alg) === undefined);
  if (fitting.length === 0) {
    const first = candidates[0] as Jwk;
    throw invalid(
      `the token's alg ${alg} does not fit ${candidates.length === 1 ? describeKey(first) : `any key in ${source}`}: ${candidates.length === 1 ? unfit(first, alg) : `none is for ${alg}`}`,
    );
  }
  for (const candidate of fitting) {
    // A key given to the API directly has not been through the key file reader: same rules.
    checkJwk(candidate, describeKey(candidate));
    const verifying = candidate.kty === 'oct' ? candidate : toPublicJwk(candidate);
    const { valid, verifier } = await verifyCompactJws(token.trim(), verifying, alg);
    if (!valid) continue;
    const claims = jwtClaimsOf(header, decoded.payload);
    if (claims !== undefined) checkTimes(claims, options);
    return { header, alg, payload: decoded.payload, claims, key: verifying, verifier };
  }
  throw invalid(
    `the signature does not verify with ${fitting.length === 1 ? describeKey(fitting[0] as Jwk) : `any of the ${fitting.length} keys in ${source} that fit ${alg}`}`,
  );
}

import { ErrorCode, KeymintError } from './errors.js';
import { describeJwk, type Jwk } from './jwk.js';
import type { OpenedKey } from './open-key.js';
import { assertAlgorithmFits, isCurve, signatureAlgorithmOfCurve } from './params.js';

const DEFAULT_SIG_ALG: Record<string, string> = { RSA: 'RS256', oct: 'HS256' };
/** Header members keymint sets itself; a caller may not override them. */
const RESERVED_HEADERS = new Set(['alg', 'b64', 'crit']);

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

/**
 * The algorithm a key signs with: the one asked for, else the key's own `alg`, else the default
 * of its type (ES256 for P-256 ...). It must fit the key.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED when it does not fit
 * @example signingAlgorithm({ kty: 'EC', crv: 'P-384' }) // 'ES384'
 */
export function signingAlgorithm(jwk: Jwk, requested?: string): string {
  let alg = requested ?? (typeof jwk.alg === 'string' ? jwk.alg : undefined);
  if (alg === undefined) {
    alg = typeof jwk.crv === 'string' && isCurve(jwk.crv) ? signatureAlgorithmOfCurve(jwk.crv) : DEFAULT_SIG_ALG[jwk.kty];
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
    if (RESERVED_HEADERS.has(name)) throw new KeymintError(ErrorCode.PARAM_INVALID, `the "${name}" header is set by keymint and cannot be given`);
  }
  const header: Record<string, unknown> = { alg };
  if (typeof key.jwk.kid === 'string') header.kid = key.jwk.kid;
  Object.assign(header, options.header);
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(payload)}`;
  const signature = await key.backend.sign(key.private, alg, new TextEncoder().encode(signingInput));
  return `${signingInput}.${b64url(signature)}`;
}

import {
  ErrorCode,
  KeymintError,
  assertAlgorithmFits,
  curveBytes,
  decodeOaepBlock,
  keyManagementOf,
  type Jwk,
  type UnwrapParams,
} from '@keymint/core';
import type { TokenKey } from './find-key.js';
import type { Graphene } from './load-graphene.js';
import { pkcs11CodeOf, toKeymintError } from './map-pkcs11-error.js';
import { CKA_VALUE, CKF_MECHANISM, CKG, CKK, CKM, CKO, CKR } from './pkcs11-constants.js';
import { retryTransient } from './retry-transient.js';
import { can } from './token-key-types.js';
import type { TokenSession } from './token-session.js';

/** Errors that say the token, session or key went away: not about the data, and reported as they are. */
const GONE = new Set<number>([
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.SESSION_CLOSED,
  CKR.SESSION_HANDLE_INVALID,
  CKR.USER_NOT_LOGGED_IN,
  CKR.OBJECT_HANDLE_INVALID,
  CKR.KEY_HANDLE_INVALID,
  CKR.DEVICE_MEMORY,
]);
/** Errors of C_DecryptInit or C_DeriveKey that say the token cannot take these mechanism parameters. */
const PARAMETERS_REFUSED = new Set<number>([CKR.MECHANISM_PARAM_INVALID, CKR.ARGUMENTS_BAD, CKR.MECHANISM_INVALID]);
/** Errors that say the key may not do this (CKA_DECRYPT or CKA_DERIVE false: a signing key). */
const NOT_PERMITTED = new Set<number>([CKR.KEY_FUNCTION_NOT_PERMITTED, CKR.KEY_TYPE_INCONSISTENT]);

function notSupported(alg: string, token: TokenSession, why = 'it lacks the mechanism'): KeymintError {
  return new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `${alg} is not supported by token ${token.name}: ${why}`);
}

function notPermitted(alg: string, token: TokenSession, cause: unknown): KeymintError {
  const text = `the key on token ${token.name} may not decrypt or derive (a key made for signing): it cannot be used for ${alg}`;
  return new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, text, cause === undefined ? {} : { cause });
}

/** The one error of a decryption the token refused for the data: no cause, so nothing tells why, and nothing retries it. */
function failed(): KeymintError {
  return new KeymintError(ErrorCode.DECRYPT_FAILED, 'the encrypted key does not decrypt with the key on the token');
}

interface OaepPlan {
  hash: 'sha1' | 'sha256';
  mechanism: number;
  mgf: number;
}
const OAEP: Record<string, OaepPlan> = {
  'RSA-OAEP': { hash: 'sha1', mechanism: CKM.SHA_1, mgf: CKG.MGF1_SHA1 },
  'RSA-OAEP-256': { hash: 'sha256', mechanism: CKM.SHA256, mgf: CKG.MGF1_SHA256 },
};

type Pkcs11Mechanism = Parameters<TokenSession['session']['lib']['C_DecryptInit']>[1];

/**
 * C_DecryptInit and C_Decrypt in one call: 'refused' when the token will not take the mechanism's
 * parameters (so another way can be tried), the plaintext otherwise. A C_Decrypt that fails is
 * DECRYPT_FAILED whatever the token says, and is not tried again: a retry or a second message
 * would tell a padding failure from a wrong key. tpm2-pkcs11 (1.9) leaves the operation active
 * after a failed C_Decrypt, so that every later C_DecryptInit fails with CKR_OPERATION_ACTIVE:
 * C_DecryptFinal ends it (elsewhere it returns CKR_OPERATION_NOT_INITIALIZED, which is ignored).
 */
async function decryptOnToken(
  token: TokenSession,
  key: TokenKey,
  alg: string,
  mechanism: Pkcs11Mechanism,
  data: Uint8Array,
): Promise<Uint8Array | 'refused'> {
  const lib = token.session.lib;
  const outLength = Math.max(key.modulusBytes ?? 0, 64);
  try {
    await retryTransient(token.quirks, () => lib.C_DecryptInit(token.session.handle, mechanism, key.object.handle));
  } catch (error) {
    const code = pkcs11CodeOf(error);
    if (code !== undefined && PARAMETERS_REFUSED.has(code)) return 'refused';
    if (code !== undefined && NOT_PERMITTED.has(code)) throw notPermitted(alg, token, error);
    throw toKeymintError(error, { action: `decrypting with ${alg}`, token: token.name });
  }
  try {
    return new Uint8Array(await lib.C_DecryptAsync(token.session.handle, Buffer.from(data), Buffer.alloc(outLength)));
  } catch (error) {
    try {
      lib.C_DecryptFinal(token.session.handle, Buffer.alloc(outLength));
    } catch {
      // No operation was left active: the usual case.
    }
    const code = pkcs11CodeOf(error);
    if (code !== undefined && GONE.has(code)) {
      throw toKeymintError(error, { action: `decrypting with ${alg}`, token: token.name });
    }
    // Some modules let a key without CKA_DECRYPT start the operation and fail it here, as they fail
    // bad data (tpm2-pkcs11): the key's attribute, not the data, tells a signing key apart.
    assertPermitted(token, key, 'decrypt', alg);
    throw failed();
  }
}

/** A raw RSA result as long as the modulus: PKCS#11 leaves the length to the module, and some drop leading zeros. */
function fullLength(block: Uint8Array, length: number): Uint8Array {
  if (block.length >= length) return block;
  const out = new Uint8Array(length);
  out.set(block, length - block.length);
  return out;
}

/**
 * Fails unless the key's usage attribute allows the operation. Read after a failure only: the
 * usual path pays no extra call, and what is read is a fact of the key, the same for any data.
 */
function assertPermitted(token: TokenSession, key: TokenKey, usage: 'decrypt' | 'derive', alg: string): void {
  let allowed: unknown;
  try {
    allowed = key.object.getAttribute(usage);
  } catch (error) {
    throw toKeymintError(error, { action: `reading the key's CKA_${usage.toUpperCase()}`, token: token.name });
  }
  if (allowed !== true) throw notPermitted(alg, token, undefined);
}

/** The OAEP algorithms a token refused the parameters of (a fact of the module): asked once per session. */
const refusedOaep = new WeakMap<TokenSession, Set<string>>();

async function unwrapRsa(
  token: TokenSession,
  key: TokenKey,
  alg: string,
  data: Uint8Array,
  params: UnwrapParams,
): Promise<Uint8Array> {
  const modulusBytes = key.modulusBytes as number;
  const decrypts = (mechanism: number) => can(token.mechanisms, mechanism, CKF_MECHANISM.DECRYPT);
  if (alg === 'RSA1_5') {
    if (!decrypts(CKM.RSA_PKCS)) throw notSupported(alg, token);
    const result = await decryptOnToken(token, key, alg, { mechanism: CKM.RSA_PKCS } as Pkcs11Mechanism, data);
    if (result === 'refused') throw notSupported(alg, token, 'it refuses CKM_RSA_PKCS');
    return result;
  }
  const plan = OAEP[alg] as OaepPlan;
  const refused = refusedOaep.get(token) ?? new Set<string>();
  if (decrypts(CKM.RSA_PKCS_OAEP) && !refused.has(alg)) {
    const parameter = new token.module.graphene.RsaOaepParams(plan.mechanism, plan.mgf).toCKI();
    const result = await decryptOnToken(
      token,
      key,
      alg,
      { mechanism: CKM.RSA_PKCS_OAEP, parameter } as Pkcs11Mechanism,
      data,
    );
    if (result !== 'refused') return result;
    refusedOaep.set(token, refused.add(alg));
  }
  // SoftHSM 2.6 does OAEP with SHA-1 only (CKR_ARGUMENTS_BAD for SHA-256, before it reads any
  // data). Its raw RSA (CKM_RSA_X_509) still keeps the private key on the token; the OAEP block is
  // then decoded here, in constant time, random bytes when it does not decode (RFC 7516 §11.5).
  if (!decrypts(CKM.RSA_X_509)) throw notSupported(alg, token, `it does OAEP with another hash only, and no raw RSA`);
  const raw = await decryptOnToken(token, key, alg, { mechanism: CKM.RSA_X_509 } as Pkcs11Mechanism, data);
  if (raw === 'refused') throw notSupported(alg, token, 'it refuses CKM_RSA_X_509');
  return decodeOaepBlock(fullLength(raw, modulusBytes), plan.hash, params.cekLength);
}

/**
 * Recovers a JWE's content-encryption key with an RSA key on a logged-in token: RSA-OAEP and
 * RSA-OAEP-256 with CKM_RSA_PKCS_OAEP (SHA-1 or SHA-256 and MGF1 with the same hash; where the
 * token takes only SHA-1, raw RSA with the OAEP block decoded in the host), RSA1_5 with
 * CKM_RSA_PKCS. Secret keys on a token are not used for JWEs (dir would need the key itself).
 * @throws KeymintError ERR_DECRYPT_FAILED (one error for any failure of the data),
 *   ERR_ALG_NOT_SUPPORTED (the token lacks the mechanism, the key may not decrypt, the alg does not fit)
 * @example await unwrapWithKey(token, findKey(token, uri), 'RSA-OAEP-256', encryptedKey, { cekLength: 32 })
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.3
 */
export async function unwrapWithKey(
  token: TokenSession,
  key: TokenKey,
  alg: string,
  encryptedKey: Uint8Array,
  params: UnwrapParams,
): Promise<Uint8Array> {
  const mode = keyManagementOf(alg)?.mode;
  assertAlgorithmFits({ kty: key.kty, ...(key.crv === undefined ? {} : { crv: key.crv }) }, alg, 'enc');
  if (mode === 'rsa' && key.kty === 'RSA' && key.keyClass === CKO.PRIVATE_KEY) {
    return unwrapRsa(token, key, alg, encryptedKey, params);
  }
  if (key.kty === 'oct') {
    throw notSupported(
      alg,
      token,
      'keymint decrypts JWEs with the RSA and EC keys of a token, not with its secret keys',
    );
  }
  throw notSupported(alg, token, `${alg} takes no encrypted key to unwrap`);
}

/** The template of the session key ECDH derives, by length: the same for every call. */
const derivedTemplates = new Map<number, ReturnType<Graphene['Template']['toPkcs11']>>();

/** The uncompressed point 04 || X || Y of an EC public JWK. */
function pointOf(jwk: Jwk): Buffer {
  return Buffer.concat([Buffer.of(0x04), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
}

/** The same point as a DER OCTET STRING, which some tokens want in CK_ECDH1_DERIVE_PARAMS instead. */
function derOctetString(point: Buffer): Buffer {
  const length = point.length < 0x80 ? Buffer.of(point.length) : Buffer.of(0x81, point.length);
  return Buffer.concat([Buffer.of(0x04), length, point]);
}

/**
 * The ECDH shared secret Z of an EC key on a logged-in token and a peer's public key:
 * CKM_ECDH1_DERIVE with CKD_NULL into a session-only generic secret that may be read (sensitive
 * false, extractable true), whose CKA_VALUE is Z; the session key is destroyed at once. The
 * private key stays on the token; Z, like the CEK of RSA-OAEP, comes to the host, where the
 * Concat KDF runs.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED (the token lacks CKM_ECDH1_DERIVE, the key may not
 *   derive, or is not an EC key on the peer's curve)
 * @example await deriveWithKey(token, findKey(token, uri), epk)
 * @see https://docs.oasis-open.org/pkcs11/pkcs11-curr/v3.0/pkcs11-curr-v3.0.html §2.3.17
 */
export async function deriveWithKey(token: TokenSession, key: TokenKey, publicJwk: Jwk): Promise<Uint8Array> {
  const alg = 'ECDH-ES';
  if (key.kty !== 'EC' || key.keyClass !== CKO.PRIVATE_KEY || key.crv === undefined) {
    const text = `the ${key.kty} key on token ${token.name} cannot do ECDH key agreement: it is not an EC private key`;
    throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, text);
  }
  if (publicJwk.crv !== key.crv) {
    const text = `the public key is on ${String(publicJwk.crv)}, and the key on token ${token.name} on ${key.crv}`;
    throw new KeymintError(ErrorCode.INPUT_INVALID, text);
  }
  if (!can(token.mechanisms, CKM.ECDH1_DERIVE, CKF_MECHANISM.DERIVE)) throw notSupported(alg, token);
  const { graphene } = token.module;
  const lib = token.session.lib;
  const length = curveBytes(key.crv);
  let template = derivedTemplates.get(length);
  if (template === undefined) {
    const attributes = {
      class: CKO.SECRET_KEY,
      keyType: CKK.GENERIC_SECRET,
      token: false,
      sensitive: false,
      extractable: true,
    };
    template = graphene.Template.toPkcs11({ ...attributes, valueLen: length });
    derivedTemplates.set(length, template);
  }
  const point = pointOf(publicJwk);
  let derived: Buffer | undefined;
  for (const publicData of [point, derOctetString(point)]) {
    const parameter = new graphene.EcdhParams(graphene.EcKdf.NULL, null, publicData).toCKI();
    const mechanism = { mechanism: CKM.ECDH1_DERIVE, parameter } as Parameters<typeof lib.C_DeriveKey>[1];
    try {
      derived = await retryTransient(token.quirks, () =>
        lib.C_DeriveKey(token.session.handle, mechanism, key.object.handle, template),
      );
      break;
    } catch (error) {
      const code = pkcs11CodeOf(error);
      if (code !== undefined && NOT_PERMITTED.has(code)) throw notPermitted(alg, token, error);
      if (code !== undefined && PARAMETERS_REFUSED.has(code) && publicData === point) continue;
      if (code === undefined || !GONE.has(code)) assertPermitted(token, key, 'derive', alg);
      throw toKeymintError(error, { action: 'deriving an ECDH secret', token: token.name });
    }
  }
  if (derived === undefined) throw notSupported(alg, token, 'it refuses the public key in either form');
  try {
    const [value] = lib.C_GetAttributeValue(token.session.handle, derived, [{ type: CKA_VALUE }]);
    const z = new Uint8Array(value?.value as Buffer);
    return fullLength(z, length);
  } catch (error) {
    throw toKeymintError(error, { action: 'reading the ECDH secret', token: token.name });
  } finally {
    try {
      lib.C_DestroyObject(token.session.handle, derived);
    } catch {
      // A session object goes with the session anyway.
    }
  }
}

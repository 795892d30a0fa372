import { createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { aesUnwrapKey } from './aes-key-wrap.js';
import type { KeyBackend, KeyOperation } from './backend.js';
import { concatKdf } from './concat-kdf.js';
import { decryptContent } from './content-encryption.js';
import { newMontgomeryKey } from './ephemeral-keys.js';
import { ErrorCode, KeymintError, isKeymintError, message, param } from './errors.js';
import { assertKeyManagementFits } from './jwe-algorithms.js';
import { readJwe, type ReadJwe } from './jwe-read.js';
import { checkJwk, describeJwk, type Jwk } from './jwk.js';
import type { OpenedKey } from './open-key.js';

export interface DecryptOptions {
  /** Allow RSA1_5 (open to padding-oracle attacks, RFC 8725 §3.2). */
  subtle?: boolean;
  /** Name of the key input, for messages. Default "the key". */
  source?: string;
}

/** A JWE that decrypted. */
export interface DecryptedJwe {
  plaintext: Uint8Array;
  /** Every header member: protected and unprotected. */
  header: Record<string, unknown>;
  protectedHeader: Record<string, unknown>;
  alg: string;
  enc: string;
  kid: string | undefined;
  /** The key that decrypted it. */
  key: OpenedKey;
}

function describeKey(key: OpenedKey): string {
  return typeof key.jwk.kid === 'string' ? `key "${key.jwk.kid}"` : `the ${describeJwk(key.jwk)} key`;
}

/** The one error of a JWE that does not decrypt, whichever step found it (RFC 7516 §11.4, §11.5). */
function decryptionFailed(key: OpenedKey): KeymintError {
  const text = `the JWE does not decrypt with ${describeKey(key)}: it was encrypted to another key, or changed`;
  return new KeymintError(ErrorCode.DECRYPT_FAILED, text);
}

function malformed(text: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `the JWE ${text}`);
}

function smallOrder(): KeymintError {
  return malformed('"epk" is a point of small order: it gives no shared secret');
}

/** Members of a JWK that hold private key material: none may be in an ephemeral public key. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

/**
 * The JWE's ephemeral public key as a public JWK of the key's own type and curve, a point on
 * that curve (RFC 7518 §4.6: an epk off the curve, or on another one, is an invalid-curve attack).
 * @throws KeymintError ERR_INPUT_INVALID
 */
function checkedEpk(epk: Record<string, unknown>, key: Jwk): Jwk {
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(epk, m))) throw malformed('"epk" holds private key members');
  if (epk.kty !== key.kty || epk.crv !== key.crv) {
    const what = `${JSON.stringify(epk.kty)} ${JSON.stringify(epk.crv)}`;
    throw malformed(
      `"epk" is ${what}, and the key is ${describeJwk(key)}: an ephemeral key must be on the key's curve`,
    );
  }
  const clean: Jwk = { kty: key.kty, crv: key.crv, x: epk.x as string };
  if (key.kty === 'EC') clean.y = epk.y as string;
  checkJwk(clean, 'the JWE "epk"');
  if (clean.kty === 'OKP' && hasSmallOrder(clean)) throw smallOrder();
  return clean;
}

const probes = new Map<string, KeyObject>();

/**
 * True for an X25519 or X448 point of small order (RFC 7748 §6: the shared secret is then all
 * zeros, whatever the private key). Scalars there are multiples of the cofactor, so any private
 * key shows it: a probe key of this process, whose agreement OpenSSL refuses for such a point.
 * Checked here rather than left to the backend, which may not check at all.
 */
function hasSmallOrder(epk: Jwk): boolean {
  const crv = epk.crv as 'X25519' | 'X448';
  let probe = probes.get(crv);
  if (probe === undefined) {
    probe = newMontgomeryKey(crv);
    probes.set(crv, probe);
  }
  try {
    const publicKey = createPublicKey({ key: epk as JsonWebKey, format: 'jwk' });
    return diffieHellman({ privateKey: probe, publicKey }).every((byte) => byte === 0);
  } catch {
    return true;
  }
}

/** Why a key cannot be the one a JWE was encrypted to, or undefined when it can. */
function problemWith(key: OpenedKey, jwe: ReadJwe, options: DecryptOptions): KeymintError | undefined {
  try {
    const subtle = options.subtle === undefined ? {} : { subtle: options.subtle };
    assertKeyManagementFits(key.jwk, jwe.management.alg, { enc: jwe.content.enc, ...subtle });
    if (jwe.epk !== undefined) checkedEpk(jwe.epk, key.jwk);
    const { n } = key.jwk;
    const modulus = key.jwk.kty === 'RSA' && typeof n === 'string' ? Buffer.from(n, 'base64url').length : undefined;
    if (jwe.management.mode === 'rsa' && modulus !== undefined && jwe.encryptedKey.length !== modulus) {
      throw malformed(
        `encrypted key is ${jwe.encryptedKey.length} bytes long, and ${describeKey(key)} makes ${modulus}`,
      );
    }
    return undefined;
  } catch (error) {
    if (isKeymintError(error)) return error;
    throw error;
  }
}

/** True when `encryptedKey`, as long as the RSA key's modulus (problemWith checks that), is a number below it. */
function belowModulus(encryptedKey: Uint8Array, jwk: Jwk): boolean {
  return typeof jwk.n !== 'string' || Buffer.compare(Buffer.from(encryptedKey), Buffer.from(jwk.n, 'base64url')) < 0;
}

function requireOperation(backend: KeyBackend, operation: KeyOperation, alg: string): void {
  if (typeof backend[operation] === 'function' && backend.capabilities.keyOperations?.includes(operation)) return;
  const holder = backend.description ?? `backend "${backend.name}"`;
  const text = `${alg} is not supported by ${holder}: it cannot decrypt with the keys it holds`;
  throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, text);
}

/** The content-encryption key, recovered by the backend that holds the key (and for ECDH, here). */
async function contentKey(key: OpenedKey, jwe: ReadJwe): Promise<Uint8Array | undefined> {
  const { backend } = key;
  const { alg, mode, wrapBits } = jwe.management;
  const cekLength = jwe.content.cekBytes;
  if (mode === 'ecdh' || mode === 'ecdh-kw') {
    requireOperation(backend, 'deriveSharedSecret', alg);
    const z = await backend.deriveSharedSecret!(key.private, checkedEpk(jwe.epk as Record<string, unknown>, key.jwk));
    // A point of small order (X25519, X448) gives an all-zero secret that anyone can compute.
    if (z.every((byte) => byte === 0)) throw smallOrder();
    // RFC 7518 §4.6.2: the AlgorithmID and keydatalen are the enc's for ECDH-ES, the alg's for +A*KW.
    if (mode === 'ecdh') return concatKdf(z, jwe.content.enc, cekLength * 8, jwe.apu, jwe.apv);
    return aesUnwrapKey(concatKdf(z, alg, wrapBits as number, jwe.apu, jwe.apv), jwe.encryptedKey);
  }
  requireOperation(backend, 'unwrapKey', alg);
  const params = { cekLength, ...(jwe.wrap === undefined ? {} : { iv: jwe.wrap.iv, tag: jwe.wrap.tag }) };
  let cek: Uint8Array | undefined;
  // RSA: an encrypted key that is not below the modulus cannot have been encrypted to this key
  // (RFC 8017 §5.1.2), and OpenSSL throws on it; nothing secret tells that, so the backend is
  // not asked, and the JWE fails below as any other does.
  if (mode !== 'rsa' || belowModulus(jwe.encryptedKey, key.jwk)) {
    try {
      cek = await backend.unwrapKey!(key.private, alg, jwe.encryptedKey, params);
    } catch (error) {
      if (!isKeymintError(error, ErrorCode.DECRYPT_FAILED)) throw error;
      cek = undefined;
    }
  }
  // RSA: a key that does not decrypt goes on as a random one and fails at the tag, as a wrong key
  // does, so that no error and no shortcut tells a padding failure from any other (RFC 7516 §11.5).
  if (mode === 'rsa' && cek?.length !== cekLength) return new Uint8Array(randomBytes(cekLength));
  return cek;
}

async function decryptWith(key: OpenedKey, jwe: ReadJwe): Promise<Uint8Array> {
  const cek = await contentKey(key, jwe);
  if (cek === undefined || cek.length !== jwe.content.cekBytes) throw decryptionFailed(key);
  const plaintext = decryptContent(jwe.content, cek, { iv: jwe.iv, ciphertext: jwe.ciphertext, tag: jwe.tag }, jwe.aad);
  if (plaintext === undefined) throw decryptionFailed(key);
  return plaintext;
}

/** The keys a JWE may be for: by its kid, else all of them. */
function candidatesFor(keys: readonly OpenedKey[], kid: string | undefined, source: string): OpenedKey[] {
  if (kid === undefined) return [...keys];
  const byKid = keys.filter((k) => k.jwk.kid === kid);
  if (byKid.length > 0) return byKid;
  const [only] = keys;
  if (keys.length === 1 && only !== undefined && only.jwk.kid === undefined) return [only];
  if (keys.length === 1 && only !== undefined) {
    const text = `the JWE is encrypted to key "${kid}", but ${source} is key "${String(only.jwk.kid)}"`;
    throw new KeymintError(ErrorCode.KEY_NOT_FOUND, text);
  }
  throw new KeymintError(
    ErrorCode.KEY_NOT_FOUND,
    `${source} has no key with kid "${kid}", the kid in the JWE's header`,
  );
}

/**
 * Decrypts a JWE (compact, flattened or general JSON with one recipient) encrypted to a key of any
 * backend: RSA-OAEP, RSA-OAEP-256 (RSA1_5 with `subtle`), ECDH-ES and ECDH-ES+A128KW/A192KW/A256KW
 * on P-256, P-384, P-521, X25519 and X448, A128KW ... A256KW, A128GCMKW ... A256GCMKW and dir, with
 * A128GCM ... A256GCM or A128CBC-HS256 ... A256CBC-HS512. Of several keys, the one with the JWE's
 * kid is used (without a kid, each that fits in turn). The private-key step runs in the backend
 * that holds the key (an HSM key never leaves it); the rest runs here. Everything that needs no key
 * is checked first (see readJwe), then that the key fits the alg and enc and that an epk is a
 * point on the key's curve; a JWE that then does not decrypt gives one error, whichever step failed.
 * @throws KeymintError ERR_DECRYPT_FAILED (wrong key, changed JWE), ERR_INPUT_INVALID (malformed or
 *   unsafe JWE), ERR_ALG_NOT_SUPPORTED (an alg that does not fit the key or its backend),
 *   ERR_KEY_NOT_FOUND (no key with the JWE's kid), and the backend's own errors
 * @example const { plaintext } = await decrypt(jwe, await openKeyFile('key.json', { password }));
 * @see https://www.rfc-editor.org/rfc/rfc7516#section-5.2
 */
export async function decrypt(
  jwe: string,
  keys: OpenedKey | readonly OpenedKey[],
  options: DecryptOptions = {},
): Promise<DecryptedJwe> {
  const read = readJwe(jwe);
  const source = options.source ?? 'the key';
  const list: readonly OpenedKey[] = Array.isArray(keys) ? keys : [keys as OpenedKey];
  const candidates = candidatesFor(list, read.kid, source);
  const problems = candidates.map((key) => problemWith(key, read, options));
  const fitting = candidates.filter((_, i) => problems[i] === undefined);
  if (fitting.length === 0) {
    const [first] = problems;
    if (candidates.length === 1 && first !== undefined) throw first;
    const what = `${read.management.alg} with ${read.content.enc}`;
    const hint = message`give the key the JWE was encrypted to with ${param('key')}`;
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `none of the ${candidates.length} keys in ${source} is for the JWE's ${what}`,
      { hint },
    );
  }
  let failure: KeymintError | undefined;
  for (const key of fitting) {
    try {
      const plaintext = await decryptWith(key, read);
      const { header, protectedHeader, kid } = read;
      return { plaintext, header, protectedHeader, alg: read.management.alg, enc: read.content.enc, kid, key };
    } catch (error) {
      if (!isKeymintError(error, ErrorCode.DECRYPT_FAILED)) throw error;
      failure ??= error;
    }
  }
  if (fitting.length === 1) throw failure as KeymintError;
  const which = `any of the ${fitting.length} keys in ${source} that fit it`;
  const text = `the JWE does not decrypt with ${which}: it was encrypted to another key, or changed`;
  throw new KeymintError(ErrorCode.DECRYPT_FAILED, text);
}

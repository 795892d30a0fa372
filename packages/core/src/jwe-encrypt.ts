import { constants, createPublicKey, diffieHellman, publicEncrypt, randomBytes } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { FlattenedEncrypt, importJWK } from 'jose';
import { aesWrapKey } from './aes-key-wrap.js';
import { concatKdf } from './concat-kdf.js';
import { encryptContent } from './content-encryption.js';
import { agreeOnCurve, montgomeryPublicX, newMontgomeryKey } from './ephemeral-keys.js';
import { ErrorCode, KeymintError, message, param } from './errors.js';
import { encryptionAlgorithm, encryptionContent, keyManagementOf, type ContentEncryption } from './jwe-algorithms.js';
import { checkJwk, describeJwk, toPublicJwk, type Jwk, type JwkSet } from './jwk.js';

export interface EncryptOptions {
  /** The key management algorithm; default: the key's `alg`, else its type's (see encryptionAlgorithm). */
  alg?: string;
  /** The content encryption; default A256GCM (dir: the one the key's size is for). */
  enc?: string;
  /** Chooses the key from a set; for one key, it must be the key's kid when the key has one. */
  kid?: string;
  /** Extra protected header members (typ, cty ...); those keymint sets are refused. */
  header?: Record<string, unknown>;
  /** Allow RSA1_5. */
  subtle?: boolean;
  /** Name of the key input, for messages. Default "the key". */
  source?: string;
}

/** A JWE in both serializations, and what it was made with. */
export interface EncryptedJwe {
  /** The compact serialization (RFC 7516 §7.1). */
  compact: string;
  /** The flattened JSON serialization (RFC 7516 §7.2.2): the same parts. */
  flattened: { protected: string; encrypted_key?: string; iv: string; ciphertext: string; tag: string };
  /** The protected header. */
  header: Record<string, unknown>;
  alg: string;
  enc: string;
  kid: string | undefined;
}

/** Header members keymint sets (or the algorithm does): a caller may not give them. */
const RESERVED_HEADERS = new Set(['alg', 'enc', 'zip', 'crit', 'kid', 'epk', 'apu', 'apv', 'iv', 'tag', 'p2s', 'p2c']);

const b64 = (data: Uint8Array | string) => Buffer.from(data).toString('base64url');

/** A key that can encrypt: a public JWK of a type with an encryption algorithm, or an oct key. */
function canEncrypt(jwk: Jwk, options: EncryptOptions): boolean {
  try {
    encryptionAlgorithm(jwk, options.alg, { ...(options.subtle === undefined ? {} : { subtle: options.subtle }) });
    return true;
  } catch {
    return false;
  }
}

function chooseKey(keys: Jwk | JwkSet, options: EncryptOptions, source: string): Jwk {
  if (!Array.isArray((keys as JwkSet).keys)) {
    const jwk = keys as Jwk;
    if (options.kid !== undefined && typeof jwk.kid === 'string' && jwk.kid !== options.kid) {
      const text = message`${param('kid')} "${options.kid}" is not the kid of ${source}, which is "${jwk.kid}"`;
      throw new KeymintError(ErrorCode.KEY_NOT_FOUND, text, { param: 'kid' });
    }
    return jwk;
  }
  const set = (keys as JwkSet).keys;
  if (options.kid !== undefined) {
    const found = set.find((k) => k.kid === options.kid);
    if (found === undefined) {
      throw new KeymintError(
        ErrorCode.KEY_NOT_FOUND,
        message`${source} has no key with ${param('kid')} "${options.kid}"`,
        { param: 'kid' },
      );
    }
    return found;
  }
  const able = set.filter((k) => canEncrypt(k, options));
  const [only] = able;
  if (able.length === 1 && only !== undefined) return only;
  if (able.length === 0) {
    const withAlg = options.alg === undefined ? '' : ` with ${options.alg}`;
    throw new KeymintError(ErrorCode.KEY_NOT_FOUND, `${source} holds no key to encrypt to${withAlg}`);
  }
  const text = message`${source} holds ${able.length} keys to encrypt to: choose one with ${param('kid')}`;
  throw new KeymintError(ErrorCode.PARAM_INVALID, text, { param: 'kid' });
}

/** The public key (or an oct key as it is) to encrypt to, checked as every key read from outside is. */
function encryptionKey(jwk: Jwk, source: string): Jwk {
  const key = jwk.kty === 'oct' ? jwk : toPublicJwk(jwk);
  checkJwk(key, source);
  if (key.kty === 'oct' && typeof key.k !== 'string') {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${source} is an oct key without its secret "k": it cannot encrypt`,
    );
  }
  return key;
}

/** jose 6 has no RSA1_5 and no ECDH on X448 or secp256k1; keymint encrypts those itself. */
function joseEncrypts(jwk: Jwk, alg: string): boolean {
  return alg !== 'RSA1_5' && jwk.crv !== 'X448' && jwk.crv !== 'secp256k1';
}

type Flattened = EncryptedJwe['flattened'];
type JoseHeader = Parameters<FlattenedEncrypt['setProtectedHeader']>[0];

async function encryptWithJose(
  jwk: Jwk,
  alg: string,
  header: Record<string, unknown>,
  plaintext: Uint8Array,
): Promise<Flattened> {
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
  const jwe = await new FlattenedEncrypt(plaintext).setProtectedHeader(header as JoseHeader).encrypt(key);
  const { protected: prot, encrypted_key, iv, ciphertext, tag } = jwe;
  const wrapped = encrypted_key === undefined ? {} : { encrypted_key };
  return { protected: prot as string, ...wrapped, iv: iv as string, ciphertext, tag: tag as string };
}

/** An ephemeral key pair on the recipient's curve, and the ECDH secret with the recipient. */
function agree(jwk: Jwk): { epk: Jwk; z: Uint8Array } {
  const recipient: KeyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  if (jwk.kty === 'EC') {
    const { x, y, z } = agreeOnCurve(recipient.asymmetricKeyDetails?.namedCurve as string, jwk);
    return {
      epk: { kty: 'EC', crv: jwk.crv, x: x.toString('base64url'), y: y.toString('base64url') },
      z: new Uint8Array(z),
    };
  }
  const privateKey = newMontgomeryKey(jwk.crv as 'X25519' | 'X448');
  const epk: Jwk = { kty: 'OKP', crv: jwk.crv, x: montgomeryPublicX(privateKey) };
  return { epk, z: new Uint8Array(diffieHellman({ privateKey, publicKey: recipient })) };
}

/** RSA1_5, and ECDH-ES on X448 and secp256k1: the same steps as decrypt takes back, with OpenSSL. */
function encryptHere(
  jwk: Jwk,
  alg: string,
  content: ContentEncryption,
  header: Record<string, unknown>,
  plaintext: Uint8Array,
): Flattened {
  const rule = keyManagementOf(alg);
  let cek: Uint8Array = new Uint8Array(randomBytes(content.cekBytes));
  let encryptedKey: Uint8Array | undefined;
  const full = { ...header };
  if (rule?.mode === 'rsa') {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    encryptedKey = new Uint8Array(publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, cek));
  } else {
    const { epk, z } = agree(jwk);
    full.epk = epk;
    if (rule?.mode === 'ecdh') cek = concatKdf(z, content.enc, content.cekBytes * 8);
    else encryptedKey = aesWrapKey(concatKdf(z, alg, rule?.wrapBits as number), cek);
  }
  // The header as jose orders it: alg and enc first, the epk after the caller's members.
  const prot = b64(JSON.stringify(full));
  const iv = new Uint8Array(randomBytes(content.ivBytes));
  const sealed = encryptContent(content, cek, iv, plaintext, new Uint8Array(Buffer.from(prot, 'ascii')));
  const wrapped = encryptedKey === undefined ? {} : { encrypted_key: b64(encryptedKey) };
  return { protected: prot, ...wrapped, iv: b64(sealed.iv), ciphertext: b64(sealed.ciphertext), tag: b64(sealed.tag) };
}

/**
 * Encrypts a payload to a public key (or an oct key) into a JWE: the key's alg (or `alg`, if it
 * fits the key), A256GCM unless `enc` says otherwise, and the key's kid in the protected header.
 * From a JWK Set the key is chosen by `kid`, or is the one key in it that can encrypt. jose does
 * the work where it has the algorithm; RSA1_5 (with `subtle`) and ECDH-ES on X448 and secp256k1
 * are done here with OpenSSL, in the same steps.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED (an alg that does not fit the key), ERR_PARAM_INVALID
 *   (an unknown enc, a reserved header), ERR_KEY_NOT_FOUND (no key with that kid), ERR_INPUT_INVALID (a bad key)
 * @example const { compact } = await encrypt('hello', publicJwk, { enc: 'A128GCM' });
 * @see https://www.rfc-editor.org/rfc/rfc7516#section-5.1
 */
export async function encrypt(
  payload: Uint8Array | string,
  keys: Jwk | JwkSet,
  options: EncryptOptions = {},
): Promise<EncryptedJwe> {
  const source = options.source ?? 'the key';
  for (const name of Object.keys(options.header ?? {})) {
    if (RESERVED_HEADERS.has(name)) {
      const instead = name === 'kid' ? message` (use ${param('kid')})` : '';
      const text = message`the "${name}" header is set by keymint or the algorithm and cannot be given${instead}`;
      throw new KeymintError(ErrorCode.PARAM_INVALID, text, { param: 'header' });
    }
  }
  const chosen = chooseKey(keys, options, source);
  const jwk = encryptionKey(chosen, typeof chosen.kid === 'string' ? `key "${chosen.kid}"` : source);
  const fit = options.subtle === undefined ? {} : { subtle: options.subtle };
  const alg = encryptionAlgorithm(jwk, options.alg, fit);
  const content = encryptionContent(jwk, alg, options.enc);
  const kid = typeof jwk.kid === 'string' ? jwk.kid : options.kid;
  const header: Record<string, unknown> = { alg, enc: content.enc, ...(kid === undefined ? {} : { kid }) };
  Object.assign(header, options.header);
  const plaintext = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  let flattened: EncryptedJwe['flattened'];
  try {
    flattened = joseEncrypts(jwk, alg)
      ? await encryptWithJose(jwk, alg, header, plaintext)
      : encryptHere(jwk, alg, content, header, plaintext);
  } catch (cause) {
    if (cause instanceof KeymintError) throw cause;
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new KeymintError(ErrorCode.INPUT_INVALID, `the ${describeJwk(jwk)} key cannot encrypt with ${alg}: ${why}`, {
      cause,
    });
  }
  const { protected: prot, encrypted_key, iv, ciphertext, tag } = flattened;
  const compact = [prot, encrypted_key ?? '', iv, ciphertext, tag].join('.');
  const protectedHeader = JSON.parse(Buffer.from(prot, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { compact, flattened, header: protectedHeader, alg, enc: content.enc, kid };
}

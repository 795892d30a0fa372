import { ErrorCode, KeymintError, message, oneOf, param } from './errors.js';
import { describeJwk, keySizeBits, type Jwk } from './jwk.js';
import { assertAlgorithmFits, useOfAlgorithm } from './params.js';

/**
 * How a JWE key management algorithm gets the content-encryption key (CEK), RFC 7518 §4.1:
 * `rsa` decrypts the JWE Encrypted Key with an RSA key; `ecdh` derives the CEK itself from an ECDH
 * agreement and `ecdh-kw` a key that unwraps it; `aes-kw` and `aes-gcm-kw` unwrap it with an AES
 * key; `dir` uses the key as the CEK.
 */
export type KeyManagementMode = 'rsa' | 'ecdh' | 'ecdh-kw' | 'aes-kw' | 'aes-gcm-kw' | 'dir';

export interface KeyManagement {
  alg: string;
  mode: KeyManagementMode;
  /** Bits of the AES key that wraps the CEK: ECDH-ES+A128KW 128, A256GCMKW 256 ... */
  wrapBits?: number;
}

const KEY_MANAGEMENT: Record<string, Omit<KeyManagement, 'alg'>> = {
  RSA1_5: { mode: 'rsa' },
  'RSA-OAEP': { mode: 'rsa' },
  'RSA-OAEP-256': { mode: 'rsa' },
  'ECDH-ES': { mode: 'ecdh' },
  'ECDH-ES+A128KW': { mode: 'ecdh-kw', wrapBits: 128 },
  'ECDH-ES+A192KW': { mode: 'ecdh-kw', wrapBits: 192 },
  'ECDH-ES+A256KW': { mode: 'ecdh-kw', wrapBits: 256 },
  A128KW: { mode: 'aes-kw', wrapBits: 128 },
  A192KW: { mode: 'aes-kw', wrapBits: 192 },
  A256KW: { mode: 'aes-kw', wrapBits: 256 },
  A128GCMKW: { mode: 'aes-gcm-kw', wrapBits: 128 },
  A192GCMKW: { mode: 'aes-gcm-kw', wrapBits: 192 },
  A256GCMKW: { mode: 'aes-gcm-kw', wrapBits: 256 },
  dir: { mode: 'dir' },
};

/** The JWE "alg" values keymint encrypts and decrypts with keys (PBES2 is for passwords: see encryptJwk). */
export const JWE_KEY_ALGORITHMS = Object.keys(KEY_MANAGEMENT);

/** A JWE content encryption algorithm, RFC 7518 §5.1: AES-GCM or AES-CBC with HMAC-SHA2. */
export interface ContentEncryption {
  enc: string;
  kind: 'gcm' | 'cbc-hs';
  /** Bytes of the CEK: for CBC-HS the MAC key and the AES key together (RFC 7518 §5.2.2.1). */
  cekBytes: number;
  ivBytes: number;
  tagBytes: number;
  /** The HMAC hash of CBC-HS. */
  hash?: 'sha256' | 'sha384' | 'sha512';
}

const CONTENT: Record<string, Omit<ContentEncryption, 'enc'>> = {
  A128GCM: { kind: 'gcm', cekBytes: 16, ivBytes: 12, tagBytes: 16 },
  A192GCM: { kind: 'gcm', cekBytes: 24, ivBytes: 12, tagBytes: 16 },
  A256GCM: { kind: 'gcm', cekBytes: 32, ivBytes: 12, tagBytes: 16 },
  'A128CBC-HS256': { kind: 'cbc-hs', cekBytes: 32, ivBytes: 16, tagBytes: 16, hash: 'sha256' },
  'A192CBC-HS384': { kind: 'cbc-hs', cekBytes: 48, ivBytes: 16, tagBytes: 24, hash: 'sha384' },
  'A256CBC-HS512': { kind: 'cbc-hs', cekBytes: 64, ivBytes: 16, tagBytes: 32, hash: 'sha512' },
};

/** The JWE "enc" values keymint encrypts and decrypts with. */
export const CONTENT_ENCRYPTION_ALGORITHMS = Object.keys(CONTENT);

/** The default "enc": AES-256-GCM. */
export const DEFAULT_CONTENT_ENCRYPTION = 'A256GCM';

/** Usages of `key_ops` (RFC 7517 §4.3) that allow a key to take part in encryption. */
const ENCRYPTION_OPS = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey', 'deriveKey', 'deriveBits'];

/** The key management rule of a JWE "alg", or undefined when keymint does not use it with keys. */
export function keyManagementOf(alg: string): KeyManagement | undefined {
  const rule = Object.hasOwn(KEY_MANAGEMENT, alg) ? KEY_MANAGEMENT[alg] : undefined;
  return rule === undefined ? undefined : { alg, ...rule };
}

/**
 * The content encryption rule of a JWE "enc".
 * @throws KeymintError ERR_PARAM_INVALID (param `enc`) for an "enc" keymint does not know
 * @example contentEncryption('A128CBC-HS256').cekBytes // 32
 */
export function contentEncryption(enc: string): ContentEncryption {
  const rule = Object.hasOwn(CONTENT, enc) ? CONTENT[enc] : undefined;
  if (rule === undefined) {
    const accepted = oneOf(CONTENT_ENCRYPTION_ALGORITHMS);
    const text = message`${param('enc')} ${JSON.stringify(enc)} is not a content encryption algorithm: use ${accepted}`;
    throw new KeymintError(ErrorCode.PARAM_INVALID, text, { param: 'enc' });
  }
  return { enc, ...rule };
}

function unfit(text: string | ReturnType<typeof message>, hint?: ReturnType<typeof message> | string): KeymintError {
  return new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    text,
    hint === undefined ? { param: 'alg' } : { param: 'alg', hint },
  );
}

export interface KeyManagementFitOptions {
  /** Allow RSA1_5 (open to padding-oracle attacks, RFC 8725 §3.2). */
  subtle?: boolean;
  /** The content encryption, for `dir`, whose key is the CEK and must be its size. */
  enc?: string;
}

/**
 * Fails unless a key may be used with a JWE key management algorithm: a known algorithm (not
 * PBES2, which is for passwords), not a key for signing (`use`, `key_ops`, an `alg` of its own
 * that is another one), of the type and curve the algorithm needs, and for oct keys the size it
 * needs (dir: the size of `enc`'s CEK). RSA1_5 only with `subtle`.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED (param `alg`) naming what does not fit
 * @example assertKeyManagementFits({ kty: 'RSA', n, e }, 'RSA-OAEP-256')
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.1
 */
export function assertKeyManagementFits(jwk: Jwk, alg: string, options: KeyManagementFitOptions = {}): KeyManagement {
  const what = describeJwk(jwk);
  if (alg.startsWith('PBES2')) {
    const hint = message`a password-encrypted key file is opened as ${param('key')}, not decrypted`;
    throw unfit(`${alg} encrypts with a password, not with a key`, hint);
  }
  // What the key is for comes first: a signing key is told so, whatever alg was asked for.
  const forEnc = message`use a key made with ${param('use')} enc`;
  if (jwk.use === 'sig')
    throw unfit(`this ${what} key is for signing ("use": "sig"): it cannot be used for ${alg}`, forEnc);
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.some((op) => ENCRYPTION_OPS.includes(op))) {
    const ops = JSON.stringify(jwk.key_ops);
    throw unfit(`this ${what} key has "key_ops" ${ops}, none of which encrypts: it cannot be used for ${alg}`);
  }
  if (typeof jwk.alg === 'string' && useOfAlgorithm(jwk.alg) === 'sig') {
    throw unfit(`this ${what} key is for ${jwk.alg}, a signature algorithm: it cannot encrypt`, forEnc);
  }
  const rule = keyManagementOf(alg);
  if (rule === undefined) {
    const accepted = oneOf(JWE_KEY_ALGORITHMS);
    throw unfit(`${JSON.stringify(alg)} is not a JWE key management algorithm keymint uses: it uses ${accepted}`);
  }
  // A dir key may name the content encryption it is the key of as its alg (RFC 7520 §5.6 does).
  const ownAlg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
  const ownEnc = ownAlg !== undefined && Object.hasOwn(CONTENT, ownAlg) ? ownAlg : undefined;
  const dirKeyOfEnc = alg === 'dir' && ownEnc !== undefined && (options.enc === undefined || options.enc === ownEnc);
  if (ownAlg !== undefined && ownAlg !== alg && !dirKeyOfEnc) {
    const hint = message`leave out ${param('alg')}, or use a key made for ${alg}`;
    throw unfit(message`${param('alg')} ${alg} does not fit the key, whose "alg" is ${ownAlg}`, hint);
  }
  try {
    assertAlgorithmFits(jwk, alg, 'enc');
  } catch (error) {
    throw unfit(error instanceof Error ? error.message : String(error));
  }
  if (alg === 'RSA1_5' && options.subtle !== true) {
    const hint = message`prefer RSA-OAEP-256; ${param('subtle')} allows RSA1_5`;
    throw unfit('RSA1_5 is refused: it is open to padding-oracle attacks (RFC 8725 §3.2)', hint);
  }
  const bits = jwk.kty === 'oct' ? keySizeBits(jwk) : undefined;
  if (bits !== undefined && rule.wrapBits !== undefined && bits !== rule.wrapBits) {
    throw unfit(`${alg} needs a ${rule.wrapBits}-bit key, and this oct key has ${bits} bits`);
  }
  if (bits !== undefined && rule.mode === 'dir' && options.enc !== undefined) {
    const cekBits = contentEncryption(options.enc).cekBytes * 8;
    if (bits !== cekBits) {
      const text = message`dir with ${param('enc')} ${options.enc} needs a ${cekBits}-bit key, and this oct key has ${bits} bits`;
      throw unfit(text);
    }
  }
  return rule;
}

/** The "enc" a `dir` key of this many bits is the CEK of. */
const DIR_CONTENT: Record<number, string> = {
  128: 'A128GCM',
  192: 'A192GCM',
  256: 'A256GCM',
  384: 'A192CBC-HS384',
  512: 'A256CBC-HS512',
};

/**
 * The key management algorithm to encrypt to a key with: the one asked for, else the key's own
 * `alg`, else its type's default (RSA: RSA-OAEP-256; EC, X25519, X448: ECDH-ES; oct of 128, 192 or
 * 256 bits: A128GCMKW ... A256GCMKW), checked to fit the key.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED
 * @example encryptionAlgorithm({ kty: 'OKP', crv: 'X25519', x }) // 'ECDH-ES'
 */
export function encryptionAlgorithm(jwk: Jwk, requested?: string, options: KeyManagementFitOptions = {}): string {
  const own = typeof jwk.alg === 'string' ? jwk.alg : undefined;
  let alg = requested ?? (own !== undefined && jwk.kty === 'oct' && Object.hasOwn(CONTENT, own) ? 'dir' : own);
  if (alg === undefined) {
    const bits = keySizeBits(jwk);
    if (jwk.kty === 'RSA') alg = 'RSA-OAEP-256';
    else if (jwk.kty === 'EC' || (jwk.kty === 'OKP' && (jwk.crv === 'X25519' || jwk.crv === 'X448'))) alg = 'ECDH-ES';
    else if (jwk.kty === 'oct' && (bits === 128 || bits === 192 || bits === 256)) alg = `A${bits}GCMKW`;
    else throw unfit(`a ${describeJwk(jwk)} key has no default encryption algorithm`, message`give ${param('alg')}`);
  }
  assertKeyManagementFits(jwk, alg, options);
  return alg;
}

/**
 * The content encryption to use: the one asked for, else A256GCM; with `dir`, the one whose CEK
 * is the key (by its size) when none is asked for.
 * @throws KeymintError ERR_PARAM_INVALID for an unknown "enc", ERR_ALG_NOT_SUPPORTED for a dir key of another size
 */
export function encryptionContent(jwk: Jwk, alg: string, requested?: string): ContentEncryption {
  if (requested !== undefined) {
    const rule = contentEncryption(requested);
    if (alg === 'dir') assertKeyManagementFits(jwk, alg, { enc: requested });
    return rule;
  }
  if (alg !== 'dir') return contentEncryption(DEFAULT_CONTENT_ENCRYPTION);
  const bits = keySizeBits(jwk);
  const own = typeof jwk.alg === 'string' && Object.hasOwn(CONTENT, jwk.alg) ? jwk.alg : undefined;
  const enc = own ?? (bits === undefined ? undefined : DIR_CONTENT[bits]);
  if (enc === undefined) {
    throw unfit(`a ${describeJwk(jwk)} key is no content encryption key: dir needs 128, 192, 256, 384 or 512 bits`);
  }
  return contentEncryption(enc);
}

import { randomBytes } from 'node:crypto';
import { FlattenedEncrypt, compactDecrypt, flattenedDecrypt, generalDecrypt, errors as joseErrors } from 'jose';
import type { FlattenedJWE, GeneralJWE } from 'jose';
import { ErrorCode, KeymintError, oneOf } from './errors.js';
import { checkPassword, checkPbes2Count, DEFAULT_PBES2_COUNT, MAX_PBES2_COUNT, MIN_P2S_BYTES } from './password.js';
export { looksLikeJwe } from './key-document.js';
import { parseJsonObject, type Jwk } from './jwk.js';

const KEY_MANAGEMENT_ALGS = ['PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW'];
const CONTENT_ENCRYPTION_ALGS = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];
const JWK_CONTENT_TYPES = ['jwk+json', 'application/jwk+json'];

export interface EncryptOptions {
  /** PBES2 iteration count; default 600000. */
  pbes2Count?: number;
}

const utf8 = new TextEncoder();

function invalid(message: string, cause?: unknown): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, message, cause === undefined ? {} : { cause });
}

function passwordBytes(password: string): Uint8Array {
  return utf8.encode(checkPassword(password));
}

/**
 * Encrypts a private JWK under a password: JWE flattened JSON serialization, PBES2-HS256+A128KW,
 * A256GCM, cty jwk+json, a 16-byte random salt; returned as JSON indented with two spaces.
 * @throws KeymintError ERR_PARAM_INVALID for an empty password or a count out of range
 * @example const text = await encryptJwk(privateJwk, 'correct horse battery staple');
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.8
 */
export async function encryptJwk(jwk: Jwk, password: string, options: EncryptOptions = {}): Promise<string> {
  const p2c = checkPbes2Count(options.pbes2Count ?? DEFAULT_PBES2_COUNT);
  const jwe = await new FlattenedEncrypt(utf8.encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c, p2s: randomBytes(16) })
    .encrypt(passwordBytes(password));
  // The member order of RFC 7516 §7.2.2 (and of step's files), not jose's.
  const { protected: prot, encrypted_key, iv, ciphertext, tag } = jwe;
  return `${JSON.stringify({ protected: prot, encrypted_key, iv, ciphertext, tag }, null, 2)}\n`;
}

type Parsed =
  | { form: 'compact'; jwe: string; header: Record<string, unknown> }
  | { form: 'flattened'; jwe: FlattenedJWE; header: Record<string, unknown> }
  | { form: 'general'; jwe: GeneralJWE; header: Record<string, unknown> };

function decodeHeader(segment: unknown, what: string): Record<string, unknown> {
  if (segment === undefined) return {};
  if (typeof segment !== 'string') throw invalid(`the JWE ${what} is not a string`);
  return parseJsonObject(Buffer.from(segment, 'base64url').toString('utf8'), `the JWE ${what}`);
}

function plainHeader(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid(`the JWE ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function parseJwe(text: string): Parsed {
  const t = text.trim();
  if (!t.startsWith('{')) {
    const parts = t.split('.');
    if (parts.length !== 5) throw invalid('the input is not a JWE: a compact JWE has five dot-separated parts');
    return { form: 'compact', jwe: t, header: decodeHeader(parts[0], 'protected header') };
  }
  const obj = parseJsonObject(t, 'the JWE');
  if (typeof obj.ciphertext !== 'string') throw invalid('the JWE has no "ciphertext"');
  const shared = {
    ...plainHeader(obj.unprotected, 'unprotected header'),
    ...decodeHeader(obj.protected, 'protected header'),
  };
  if (Array.isArray(obj.recipients)) {
    if (obj.recipients.length !== 1)
      throw invalid(`the JWE has ${obj.recipients.length} recipients: a key file has exactly one`);
    const recipient = plainHeader(obj.recipients[0], 'recipient');
    return {
      form: 'general',
      jwe: obj as unknown as GeneralJWE,
      header: { ...plainHeader(recipient.header, 'recipient header'), ...shared },
    };
  }
  return {
    form: 'flattened',
    jwe: obj as unknown as FlattenedJWE,
    header: { ...plainHeader(obj.header, 'per-recipient header'), ...shared },
  };
}

/**
 * Checks the header of a password-encrypted JWE before any key derivation, so that a hostile
 * file costs nothing: PBES2 only, a known enc, p2c ≤ 1000000, a salt of 8 bytes or more, no zip.
 */
function checkHeader(header: Record<string, unknown>): void {
  const { alg, enc, p2c, p2s, zip, crit } = header;
  if (typeof alg !== 'string' || !KEY_MANAGEMENT_ALGS.includes(alg)) {
    throw invalid(
      `the JWE "alg" ${JSON.stringify(alg)} is not a password algorithm: keymint reads ${oneOf(KEY_MANAGEMENT_ALGS)}`,
    );
  }
  if (typeof enc !== 'string' || !CONTENT_ENCRYPTION_ALGS.includes(enc)) {
    throw invalid(
      `the JWE "enc" ${JSON.stringify(enc)} is not supported: keymint reads ${oneOf(CONTENT_ENCRYPTION_ALGS)}`,
    );
  }
  if (zip !== undefined) throw invalid('the JWE is compressed ("zip"): keymint does not read compressed key files');
  if (crit !== undefined) throw invalid('the JWE has "crit" extensions keymint does not understand');
  if (typeof p2c !== 'number' || !Number.isSafeInteger(p2c) || p2c < 1)
    throw invalid('the JWE "p2c" is missing or not a positive whole number');
  if (p2c > MAX_PBES2_COUNT) {
    throw invalid(
      `the JWE "p2c" ${p2c} is above ${MAX_PBES2_COUNT}: refused, as it could be used to make decryption take very long`,
    );
  }
  if (
    typeof p2s !== 'string' ||
    !/^[A-Za-z0-9_-]*$/.test(p2s) ||
    Buffer.from(p2s, 'base64url').length < MIN_P2S_BYTES
  ) {
    throw invalid(`the JWE "p2s" salt is missing or shorter than ${MIN_P2S_BYTES} bytes`);
  }
  if (
    header.cty !== undefined &&
    (typeof header.cty !== 'string' || !JWK_CONTENT_TYPES.includes(header.cty.toLowerCase()))
  ) {
    throw invalid(`the JWE "cty" ${JSON.stringify(header.cty)} says it does not hold a JWK`);
  }
}

/** The validated header of a password-encrypted key file, read without decrypting it. */
export function inspectJwe(text: string): Record<string, unknown> {
  const parsed = parseJwe(text);
  checkHeader(parsed.header);
  return parsed.header;
}

/**
 * Decrypts a password-encrypted JWK in compact, flattened or general JSON serialization, as
 * keymint and step write them (PBES2-HS256/384/512 with AES key wrap, AES-GCM or AES-CBC-HS).
 * @throws KeymintError ERR_INPUT_INVALID for a malformed or unsafe JWE (checked before key derivation)
 * @throws KeymintError ERR_DECRYPT_FAILED for a wrong password or altered ciphertext
 * @example const jwk = await decryptJwk(fileText, password);
 * @see https://www.rfc-editor.org/rfc/rfc7516#section-7
 */
export async function decryptJwk(text: string, password: string): Promise<Jwk> {
  const parsed = parseJwe(text);
  checkHeader(parsed.header);
  const key = passwordBytes(password);
  const options = {
    keyManagementAlgorithms: KEY_MANAGEMENT_ALGS,
    contentEncryptionAlgorithms: CONTENT_ENCRYPTION_ALGS,
    maxPBES2Count: MAX_PBES2_COUNT,
  };
  let plaintext: Uint8Array;
  try {
    if (parsed.form === 'compact') plaintext = (await compactDecrypt(parsed.jwe, key, options)).plaintext;
    else if (parsed.form === 'flattened') plaintext = (await flattenedDecrypt(parsed.jwe, key, options)).plaintext;
    else plaintext = (await generalDecrypt(parsed.jwe, key, options)).plaintext;
  } catch (cause) {
    if (cause instanceof joseErrors.JWEDecryptionFailed) {
      throw new KeymintError(
        ErrorCode.DECRYPT_FAILED,
        'wrong password: the private key could not be decrypted (or the file was altered)',
        { cause },
      );
    }
    throw invalid(`the JWE is malformed: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const jwk = parseJsonObject(Buffer.from(plaintext).toString('utf8'), 'the decrypted JWE payload');
  if (typeof jwk.kty !== 'string') throw invalid('the decrypted JWE payload is not a JWK: it has no "kty"');
  return jwk as Jwk;
}

import { ErrorCode, KeymintError, message, oneOf, param } from './errors.js';
import {
  CONTENT_ENCRYPTION_ALGORITHMS,
  JWE_KEY_ALGORITHMS,
  contentEncryption,
  keyManagementOf,
  type ContentEncryption,
  type KeyManagement,
} from './jwe-algorithms.js';
import { parseJsonObject } from './jwk.js';

/** The longest JWE keymint reads, in characters: 16 MiB of plaintext, base64url-encoded, and its headers. */
export const MAX_JWE_LENGTH = 24 * 1024 * 1024;
/** The longest header (encoded protected header, or the JSON of an unprotected one): an epk of P-521 needs ~400. */
export const MAX_JWE_HEADER_LENGTH = 8192;
/** The longest JWE Encrypted Key: an RSA modulus of 16384 bits. */
const MAX_ENCRYPTED_KEY_BYTES = 2048;
/** The longest apu or apv keymint takes, decoded. */
const MAX_PARTY_INFO_BYTES = 1024;

/** A JWE taken apart and checked, before any key is used. */
export interface ReadJwe {
  form: 'compact' | 'flattened' | 'general';
  /** The protected header as decoded. */
  protectedHeader: Record<string, unknown>;
  /** Every header member: protected, shared unprotected and per-recipient (RFC 7516 §7.2.1: disjoint). */
  header: Record<string, unknown>;
  /** The Additional Authenticated Data: ASCII(BASE64URL(protected header)) [ '.' BASE64URL(aad) ]. */
  aad: Uint8Array;
  management: KeyManagement;
  content: ContentEncryption;
  encryptedKey: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  kid: string | undefined;
  /** ECDH: the ephemeral public key, as the header has it (checked against the key later). */
  epk: Record<string, unknown> | undefined;
  apu: Uint8Array;
  apv: Uint8Array;
  /** A*GCMKW: the "iv" and "tag" header parameters. */
  wrap: { iv: Uint8Array; tag: Uint8Array } | undefined;
}

function invalid(text: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `the JWE ${text}`);
}

function unsupported(text: string, hint?: ReturnType<typeof message>): KeymintError {
  return new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, text, hint === undefined ? {} : { hint });
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64url: the alphabet, no padding, and the one encoding of its bytes (no spare bits). */
function decode(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !B64URL.test(value) || value.length % 4 === 1)
    throw invalid(`${what} is not base64url`);
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.toString('base64url') !== value) throw invalid(`${what} is not canonical base64url`);
  return new Uint8Array(bytes);
}

function headerObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid(`${what} is not a JSON object`);
  if (JSON.stringify(value).length > MAX_JWE_HEADER_LENGTH) {
    throw invalid(`${what} is longer than ${MAX_JWE_HEADER_LENGTH} characters`);
  }
  return value as Record<string, unknown>;
}

function protectedHeaderOf(encoded: unknown): Record<string, unknown> {
  if (typeof encoded !== 'string' || encoded.length === 0) throw invalid('has no protected header');
  if (encoded.length > MAX_JWE_HEADER_LENGTH) {
    throw invalid(`protected header is longer than ${MAX_JWE_HEADER_LENGTH} characters`);
  }
  return parseJsonObject(Buffer.from(decode(encoded, 'protected header')).toString('utf8'), 'the JWE protected header');
}

/** RFC 7516 §7.2.1: a member may be in one header only. */
function merge(...headers: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const header of headers) {
    for (const [name, value] of Object.entries(header)) {
      if (Object.hasOwn(out, name)) {
        throw invalid(`names the header member "${name}" twice: headers must be disjoint (RFC 7516 §7.2.1)`);
      }
      out[name] = value;
    }
  }
  return out;
}

interface Parts {
  form: ReadJwe['form'];
  protected: string;
  protectedHeader: Record<string, unknown>;
  header: Record<string, unknown>;
  aad: string | undefined;
  encryptedKey: unknown;
  iv: unknown;
  ciphertext: unknown;
  tag: unknown;
}

function splitCompact(text: string): Parts {
  const parts = text.split('.');
  if (parts.length !== 5) {
    const count = `${parts.length} dot-separated part${parts.length === 1 ? '' : 's'}`;
    throw invalid(
      `is not a compact JWE: it has ${count}, not five${parts.length === 3 ? ' (a signed JWS has three)' : ''}`,
    );
  }
  const [prot, encryptedKey, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const protectedHeader = protectedHeaderOf(prot);
  const header = protectedHeader;
  return {
    form: 'compact',
    protected: prot,
    protectedHeader,
    header,
    aad: undefined,
    encryptedKey,
    iv,
    ciphertext,
    tag,
  };
}

function splitJson(text: string): Parts {
  const jwe = parseJsonObject(text, 'the JWE');
  const protectedHeader = protectedHeaderOf(jwe.protected);
  const shared = headerObject(jwe.unprotected, '"unprotected" header');
  let recipient: Record<string, unknown> = jwe;
  let form: ReadJwe['form'] = 'flattened';
  if (jwe.recipients !== undefined) {
    if (!Array.isArray(jwe.recipients) || jwe.recipients.length !== 1) {
      const count = Array.isArray(jwe.recipients) ? jwe.recipients.length : 'no list of';
      throw invalid(`has ${count} recipients: keymint decrypts a JWE for one recipient`);
    }
    recipient = headerObject(jwe.recipients[0], 'recipient');
    form = 'general';
    if (jwe.header !== undefined || jwe.encrypted_key !== undefined) {
      throw invalid('has both "recipients" and a flattened "header" or "encrypted_key"');
    }
  }
  const header = merge(protectedHeader, shared, headerObject(recipient.header, 'per-recipient header'));
  if (jwe.aad !== undefined && typeof jwe.aad !== 'string') throw invalid('"aad" is not a string');
  return {
    form,
    protected: jwe.protected as string,
    protectedHeader,
    header,
    aad: jwe.aad as string | undefined,
    encryptedKey: recipient.encrypted_key ?? '',
    iv: jwe.iv,
    ciphertext: jwe.ciphertext,
    tag: jwe.tag,
  };
}

function algorithmOf(header: Record<string, unknown>): KeyManagement {
  const alg = header.alg;
  if (typeof alg !== 'string') throw invalid('header has no "alg"');
  if (alg.startsWith('PBES2')) {
    const hint = message`a password-encrypted key file is opened as ${param('key')}, not decrypted`;
    throw unsupported(`the JWE is encrypted under a password (${alg}), not to a key`, hint);
  }
  const management = keyManagementOf(alg);
  if (management === undefined) {
    const accepted = oneOf(JWE_KEY_ALGORITHMS);
    throw unsupported(`the JWE's "alg" ${JSON.stringify(alg)} is not one keymint decrypts: it decrypts ${accepted}`);
  }
  return management;
}

function contentOf(header: Record<string, unknown>): ContentEncryption {
  const enc = header.enc;
  if (typeof enc !== 'string') throw invalid('header has no "enc"');
  if (!CONTENT_ENCRYPTION_ALGORITHMS.includes(enc)) {
    const accepted = oneOf(CONTENT_ENCRYPTION_ALGORITHMS);
    throw unsupported(`the JWE's "enc" ${JSON.stringify(enc)} is not one keymint decrypts: it decrypts ${accepted}`);
  }
  return contentEncryption(enc);
}

function exactLength(bytes: Uint8Array, length: number, what: string, why: string): void {
  if (bytes.length !== length) throw invalid(`${what} is ${bytes.length} bytes long; ${why} is ${length}`);
}

function partyInfo(value: unknown, name: string): Uint8Array {
  if (value === undefined) return new Uint8Array();
  const bytes = decode(value, `header's "${name}"`);
  if (bytes.length > MAX_PARTY_INFO_BYTES)
    throw invalid(`header's "${name}" is longer than ${MAX_PARTY_INFO_BYTES} bytes`);
  return bytes;
}

/**
 * Reads a JWE encrypted to a key, in compact, flattened or general JSON serialization (one
 * recipient), and checks everything that needs no key before anything is decrypted: its size and
 * its headers' (MAX_JWE_LENGTH, MAX_JWE_HEADER_LENGTH), strict base64url, JSON without a member
 * named twice, a known alg (not PBES2) and enc, no "zip" (a decompression bomb is refused unread)
 * and no "crit", and the exact length of the IV, the tag and the encrypted key each algorithm
 * makes (an RSA encrypted key is checked against the modulus once the key is known).
 * @throws KeymintError ERR_INPUT_INVALID for a malformed or unsafe JWE, ERR_ALG_NOT_SUPPORTED for an
 *   alg or enc keymint does not decrypt
 * @example readJwe(token).header.kid
 * @see https://www.rfc-editor.org/rfc/rfc7516#section-5.2
 */
export function readJwe(input: string): ReadJwe {
  if (input.length > MAX_JWE_LENGTH) {
    throw invalid(`is longer than ${MAX_JWE_LENGTH} characters: keymint decrypts at most 16 MiB`);
  }
  const text = input.trim();
  const parts = text.startsWith('{') ? splitJson(text) : splitCompact(text);
  const { header } = parts;
  if (header.zip !== undefined) {
    throw invalid('is compressed ("zip"): keymint refuses compressed JWEs, whose plaintext could be any size');
  }
  if (header.crit !== undefined) {
    throw invalid(
      `has "crit" header extensions keymint does not understand: ${JSON.stringify(header.crit).slice(0, 100)}`,
    );
  }
  const management = algorithmOf(header);
  const content = contentOf(header);
  if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length > 1024)) {
    throw invalid('header\'s "kid" is not a string of at most 1024 characters');
  }
  if (
    typeof parts.encryptedKey !== 'string' ||
    parts.encryptedKey.length > Math.ceil((MAX_ENCRYPTED_KEY_BYTES * 4) / 3)
  ) {
    throw invalid(`encrypted key is missing or longer than ${MAX_ENCRYPTED_KEY_BYTES} bytes`);
  }
  const encryptedKey = decode(parts.encryptedKey, 'encrypted key');
  const iv = decode(parts.iv, 'IV');
  const ciphertext = decode(parts.ciphertext, 'ciphertext');
  const tag = decode(parts.tag, 'authentication tag');
  const aadText = parts.aad === undefined ? parts.protected : `${parts.protected}.${parts.aad}`;
  if (parts.aad !== undefined) decode(parts.aad, '"aad"');

  exactLength(iv, content.ivBytes, 'IV', `${content.enc}'s`);
  exactLength(tag, content.tagBytes, 'authentication tag', `${content.enc}'s`);
  if (content.kind === 'cbc-hs' && (ciphertext.length === 0 || ciphertext.length % 16 !== 0)) {
    throw invalid(`ciphertext is ${ciphertext.length} bytes long: AES-CBC makes a non-zero multiple of 16`);
  }
  const { mode } = management;
  if (mode === 'ecdh' || mode === 'dir') {
    if (encryptedKey.length !== 0) throw invalid(`has an encrypted key, and ${management.alg} has none`);
  } else if (mode === 'aes-kw' || mode === 'ecdh-kw') {
    exactLength(encryptedKey, content.cekBytes + 8, 'encrypted key', `an AES-wrapped ${content.enc} key's`);
  } else if (mode === 'aes-gcm-kw') {
    exactLength(encryptedKey, content.cekBytes, 'encrypted key', `an AES-GCM-wrapped ${content.enc} key's`);
  } else if (encryptedKey.length === 0) {
    throw invalid(`has no encrypted key, and ${management.alg} needs one`);
  }
  let wrap: ReadJwe['wrap'];
  if (mode === 'aes-gcm-kw') {
    wrap = { iv: decode(header.iv, 'header\'s "iv"'), tag: decode(header.tag, 'header\'s "tag"') };
    exactLength(wrap.iv, 12, 'header\'s "iv"', `${management.alg}'s`);
    exactLength(wrap.tag, 16, 'header\'s "tag"', `${management.alg}'s`);
  }
  let epk: Record<string, unknown> | undefined;
  if (mode === 'ecdh' || mode === 'ecdh-kw') {
    const value = header.epk;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw invalid(`header has no "epk" (ephemeral public key), which ${management.alg} needs`);
    }
    epk = value as Record<string, unknown>;
  }
  return {
    form: parts.form,
    protectedHeader: parts.protectedHeader,
    header,
    aad: new Uint8Array(Buffer.from(aadText, 'ascii')),
    management,
    content,
    encryptedKey,
    iv,
    ciphertext,
    tag,
    kid: header.kid as string | undefined,
    epk,
    apu: mode === 'ecdh' || mode === 'ecdh-kw' ? partyInfo(header.apu, 'apu') : new Uint8Array(),
    apv: mode === 'ecdh' || mode === 'ecdh-kw' ? partyInfo(header.apv, 'apv') : new Uint8Array(),
    wrap,
  };
}

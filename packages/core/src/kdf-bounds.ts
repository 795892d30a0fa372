import { DerTag, decodeInteger, decodeOid, derChildren, expectTag, type DerElement } from './der.js';
import { ErrorCode, KeymintError, oneOf } from './errors.js';
import { MAX_PBES2_COUNT } from './password.js';

/*
 * Bounds on every password-based key derivation keymint may run while it reads a key. An
 * encrypted file chooses its own cost, and a derivation cannot be interrupted once it runs: a
 * PBKDF2 count of 2^31, scrypt p=10000 or 2^32-1 bcrypt rounds keep a process busy for
 * minutes to years, with the right password or a wrong one. So each cost is read from the file
 * and bounded before a password is asked for, with the JWE reader's message and code.
 *
 * Measured on the build machine (2 shared cores, Node 20.20 with OpenSSL 3.0.19; best of 3):
 *   PBKDF2-HMAC-SHA256, 1,000,000 iterations, 32-byte key: node 324 ms, `openssl kdf` 380 ms.
 *     HMAC-SHA512: 0.9 s; HMAC-SHA1 with a 32-byte key (two 20-byte blocks): 1.4 s. The JWE
 *     reader allows the same count for PBES2-HS512, so one bound covers every PRF.
 *   PKCS#12 PBE (SHA-1), 1,000,000 iterations, 3DES key and IV: about 0.35 s.
 *   scrypt N=16384 r=8 p=1 (`openssl pkcs8 -scrypt` defaults, 16 MiB): node 51 ms, openssl 50 ms;
 *     p=8 (N*r*p = 2^20): node 346 ms, openssl 330-360 ms, about what 1,000,000 PBKDF2-SHA256
 *     iterations cost; p=16: 688 ms, p=64: 3.6 s. Within the work and memory bounds alone, a
 *     tiny N with a huge p (N=2 r=1 p=2^18-4, N=4 r=64 p=4090) costs 2-3 times that, in the
 *     PBKDF2 that fills B: hence the r*p bound, which leaves N=64 r=1 p=2^14 the costliest
 *     accepted input, within a fifth of N=16384 r=8 p=8 (measured side by side under load).
 *   bcrypt_pbkdf, 48-byte key (aes256-ctr), sshpk (JavaScript): 16 rounds (ssh-keygen's default)
 *     350 ms, 100 rounds 1.85 s, 256 rounds 4.0 s; ssh-keygen itself (C): 0.16 s, 0.89 s, 2.2 s.
 * Legacy encrypted PEM (Proc-Type: 4,ENCRYPTED) derives its key with one MD5 round
 * (EVP_BytesToKey, count 1) whatever the file says: nothing to bound.
 */

/**
 * Highest scrypt memory, counted as OpenSSL counts it when it decrypts PKCS#8 (128*r*(N+2) for V
 * plus 128*r*p for B, SCRYPT_MAX_MEM in crypto/evp/pbe_scrypt.c): what OpenSSL would refuse
 * after the password anyway is refused before it, and everything below can be decrypted.
 */
export const MAX_SCRYPT_MEMORY = 32 * 1024 * 1024;
/** Highest scrypt work N*r*p: 2^20 costs about what MAX_PBES2_COUNT PBKDF2-SHA256 iterations cost. */
export const MAX_SCRYPT_WORK = 2 ** 20;
/**
 * Highest scrypt r*p, the size of its B in 128-byte blocks. Each block costs a PBKDF2-HMAC-SHA256
 * block, worth about 4 of N*r*p: at a tiny N they, not the work, set the cost (N=2 r=1 p=2^18-4: 0.7 s).
 */
export const MAX_SCRYPT_BLOCKS = 2 ** 14;
/** Highest bcrypt_pbkdf rounds of an OpenSSH key: `ssh-keygen -a 256` reads in about 4 s here. */
export const MAX_BCRYPT_ROUNDS = 256;
/** Longest derived key a file may ask for, in bytes: PBKDF2's work grows with it. */
export const MAX_KDF_KEY_LENGTH = 64;

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const SCRYPT = '1.3.6.1.4.1.11591.4.11';
const HMAC_SHA1 = '1.2.840.113549.2.7';

/** PKCS#5 v1.5 PBES1 (RFC 8018 §6.1, PBKDF1): PBEParameter { salt, iterationCount }. */
const PBES1_SCHEMES: Record<string, string> = {
  '1.2.840.113549.1.5.1': 'pbeWithMD2AndDES-CBC',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.4': 'pbeWithMD2AndRC2-CBC',
  '1.2.840.113549.1.5.6': 'pbeWithMD5AndRC2-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.5.11': 'pbeWithSHA1AndRC2-CBC',
};
/** PKCS#12 PBE (RFC 7292 appendix C): pkcs-12PbeParams { salt, iterations }. */
const PKCS12_SCHEMES: Record<string, string> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.12.1.3': 'pbeWithSHAAnd3-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.4': 'pbeWithSHAAnd2-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.5': 'pbeWithSHAAnd128BitRC2-CBC',
  '1.2.840.113549.1.12.1.6': 'pbewithSHAAnd40BitRC2-CBC',
};
/** The PBKDF2 PRFs OpenSSL 3 can run (it refuses HMAC-SHA3 and HMAC-SM3 as "unsupported prf"). */
const PBKDF2_PRFS: Record<string, string> = {
  '1.2.840.113549.2.6': 'HMAC-MD5',
  [HMAC_SHA1]: 'HMAC-SHA1',
  '1.2.840.113549.2.8': 'HMAC-SHA224',
  '1.2.840.113549.2.9': 'HMAC-SHA256',
  '1.2.840.113549.2.10': 'HMAC-SHA384',
  '1.2.840.113549.2.11': 'HMAC-SHA512',
  '1.2.840.113549.2.12': 'HMAC-SHA512-224',
  '1.2.840.113549.2.13': 'HMAC-SHA512-256',
};

/** The ciphers sshpk decrypts an OpenSSH key with; it misreads the AEAD ones (their tag follows the blob). */
const OPENSSH_CIPHERS = [
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
  'aes128-cbc',
  'aes192-cbc',
  'aes256-cbc',
  '3des-cbc',
];
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

const REENCRYPT_PKCS8 = 're-encrypt it with "openssl pkcs8 -topk8 -v2 aes-256-cbc"';
const REENCRYPT_OPENSSH = 're-encrypt it with "ssh-keygen -p -Z aes256-ctr"';
const TOO_COSTLY = 'refused, as it could be used to make decryption take very long';

/** The key derivation an EncryptedPrivateKeyInfo asks for, as read from it (nothing checked yet). */
export type Pkcs8Kdf =
  | { kind: 'PBKDF2'; iterations: bigint; keyLength: bigint | undefined; prf: string }
  | { kind: 'scrypt'; n: bigint; r: bigint; p: bigint; keyLength: bigint | undefined }
  | { kind: 'PBES1' | 'PKCS#12'; iterations: bigint }
  /** A scheme, KDF, PRF or salt source whose cost keymint cannot bound: named in `what`. */
  | { kind: 'unsupported'; what: string };

export interface Pkcs8Encryption {
  /** The scheme, for messages: "PBES2 with cipher 2.16.840.1.101.3.4.1.42", "PKCS#12 PBE ... (OID)". */
  scheme: string;
  kdf: Pkcs8Kdf;
}

/** The key derivation of an OpenSSH private key (openssh-key-v1), as read from its blob. */
export interface OpenSshKdf {
  cipher: string;
  kdf: string;
  /** bcrypt_pbkdf rounds (a uint32); only for the bcrypt KDF. */
  rounds?: number;
}

function invalidParameter(source: string, message: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `${source}: ${message}`);
}

function malformed(message: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, message);
}

function tooCostly(source: string, what: string, value: string, bound: number | string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `${source}: the ${what} ${value} is above ${bound}: ${TOO_COSTLY}`);
}

function unsupported(source: string, what: string, hint: string): KeymintError {
  return new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    `${source} is encrypted with ${what}, whose key derivation keymint cannot bound or run: ${hint}`,
  );
}

/** A number from a file, for a one-line message: exact when it is short, its size when it is not. */
function show(value: bigint): string {
  const magnitude = value < 0n ? -value : value;
  if (magnitude < 2n ** 64n) return value.toString();
  const hex = magnitude.toString(16);
  const bits = (hex.length - 1) * 4 + Number.parseInt(hex[0] ?? '0', 16).toString(2).length;
  return `${value < 0n ? '-' : ''}(a ${bits}-bit number)`;
}

/** A name read from a file, shown only when it looks like a name rather than like data. */
function shownName(name: string): string {
  return /^[A-Za-z0-9@._-]{1,64}$/.test(name) ? `"${name}"` : '(an unreadable name)';
}

function oidName(oid: string, names: Record<string, string>): string {
  return Object.hasOwn(names, oid) ? `${names[oid]} (${oid})` : oid;
}

/**
 * Reads the encryption algorithm of an EncryptedPrivateKeyInfo and the key derivation it asks
 * for, without deriving anything.
 * @throws KeymintError ERR_INPUT_INVALID when the structure is malformed (the message says where)
 * @example readPkcs8Encryption(parseDer(der)).kdf // { kind: 'PBKDF2', iterations: 2048n, ... }
 * @see https://www.rfc-editor.org/rfc/rfc5958#section-3, https://www.rfc-editor.org/rfc/rfc8018#appendix-A
 */
export function readPkcs8Encryption(info: DerElement): Pkcs8Encryption {
  const [algorithm, data, ...extra] = derChildren(expectTag(info, DerTag.SEQUENCE, 'EncryptedPrivateKeyInfo'));
  expectTag(data, DerTag.OCTET_STRING, 'encryptedData');
  if (extra.length > 0) throw malformed('EncryptedPrivateKeyInfo has elements after encryptedData');
  const [oid, params] = algorithmIdentifier(algorithm, 'encryptionAlgorithm');
  const scheme = decodeOid(oid);
  if (Object.hasOwn(PBES1_SCHEMES, scheme) || Object.hasOwn(PKCS12_SCHEMES, scheme)) {
    const pbes1 = Object.hasOwn(PBES1_SCHEMES, scheme);
    const [salt, count, ...rest] = derChildren(expectTag(params, DerTag.SEQUENCE, 'PBE parameters'));
    expectTag(salt, DerTag.OCTET_STRING, 'PBE salt');
    if (rest.length > 0) throw malformed('PBE parameters have elements after the iteration count');
    return {
      scheme: pbes1 ? `PBES1 ${oidName(scheme, PBES1_SCHEMES)}` : `PKCS#12 PBE ${oidName(scheme, PKCS12_SCHEMES)}`,
      kdf: {
        kind: pbes1 ? 'PBES1' : 'PKCS#12',
        iterations: decodeInteger(expectTag(count, DerTag.INTEGER, 'PBE iteration count')),
      },
    };
  }
  if (scheme !== PBES2)
    return { scheme: `algorithm ${scheme}`, kdf: { kind: 'unsupported', what: `algorithm ${scheme}` } };
  // PBES2 (RFC 8018 §A.4) names the cipher one level down, which is what a reader wants to know.
  const [kdfAlgorithm, encryptionScheme, ...rest] = derChildren(expectTag(params, DerTag.SEQUENCE, 'PBES2 parameters'));
  if (rest.length > 0) throw malformed('PBES2 parameters have elements after encryptionScheme');
  const [cipher] = algorithmIdentifier(encryptionScheme, 'encryptionScheme');
  const described = `PBES2 with cipher ${decodeOid(cipher)}`;
  const [kdfOid, kdfParams] = algorithmIdentifier(kdfAlgorithm, 'keyDerivationFunc');
  const kdf = decodeOid(kdfOid);
  if (kdf === PBKDF2) return { scheme: described, kdf: readPbkdf2(kdfParams) };
  if (kdf === SCRYPT) return { scheme: described, kdf: readScrypt(kdfParams) };
  return { scheme: described, kdf: { kind: 'unsupported', what: `PBES2 and key derivation function ${kdf}` } };
}

function algorithmIdentifier(element: DerElement | undefined, what: string): [DerElement, DerElement | undefined] {
  const [oid, params, ...rest] = derChildren(expectTag(element, DerTag.SEQUENCE, what));
  if (rest.length > 0) throw malformed(`${what} has more than an algorithm and its parameters`);
  return [expectTag(oid, DerTag.OID, `${what} algorithm`), params];
}

/** PBKDF2-params ::= SEQUENCE { salt, iterationCount, keyLength OPTIONAL, prf DEFAULT hmacWithSHA1 } */
function readPbkdf2(params: DerElement | undefined): Pkcs8Kdf {
  const [salt, count, ...rest] = derChildren(expectTag(params, DerTag.SEQUENCE, 'PBKDF2 parameters'));
  // The otherSource choice of the salt is reserved (RFC 8018 §A.2); OpenSSL refuses it too.
  if (salt?.tag === DerTag.SEQUENCE) return { kind: 'unsupported', what: 'PBKDF2 and a salt from "otherSource"' };
  expectTag(salt, DerTag.OCTET_STRING, 'PBKDF2 salt');
  const iterations = decodeInteger(expectTag(count, DerTag.INTEGER, 'PBKDF2 iterationCount'));
  let next = rest.shift();
  let keyLength: bigint | undefined;
  if (next?.tag === DerTag.INTEGER) {
    keyLength = decodeInteger(next);
    next = rest.shift();
  }
  let prf = HMAC_SHA1;
  if (next !== undefined) prf = decodeOid(algorithmIdentifier(next, 'PBKDF2 prf')[0]);
  if (rest.length > 0) throw malformed('PBKDF2 parameters have elements after prf');
  return { kind: 'PBKDF2', iterations, keyLength, prf };
}

/** scrypt-params ::= SEQUENCE { salt, costParameter, blockSize, parallelizationParameter, keyLength OPTIONAL } */
function readScrypt(params: DerElement | undefined): Pkcs8Kdf {
  const [salt, n, r, p, keyLength, ...rest] = derChildren(expectTag(params, DerTag.SEQUENCE, 'scrypt parameters'));
  expectTag(salt, DerTag.OCTET_STRING, 'scrypt salt');
  if (rest.length > 0) throw malformed('scrypt parameters have elements after keyLength');
  return {
    kind: 'scrypt',
    n: decodeInteger(expectTag(n, DerTag.INTEGER, 'scrypt costParameter')),
    r: decodeInteger(expectTag(r, DerTag.INTEGER, 'scrypt blockSize')),
    p: decodeInteger(expectTag(p, DerTag.INTEGER, 'scrypt parallelizationParameter')),
    keyLength:
      keyLength === undefined ? undefined : decodeInteger(expectTag(keyLength, DerTag.INTEGER, 'scrypt keyLength')),
  };
}

function positive(source: string, what: string, value: bigint): void {
  if (value < 1n) throw invalidParameter(source, `the ${what} ${show(value)} is not a positive whole number`);
}

function checkCount(source: string, what: string, value: bigint, bound: number): void {
  positive(source, what, value);
  if (value > BigInt(bound)) throw tooCostly(source, what, show(value), bound);
}

/**
 * Refuses a key derivation whose cost keymint cannot bound, or whose cost is above the bounds:
 * iterations of PBKDF2, PBES1 and PKCS#12 PBE up to MAX_PBES2_COUNT (the JWE reader's bound),
 * scrypt within MAX_SCRYPT_WORK, MAX_SCRYPT_BLOCKS and MAX_SCRYPT_MEMORY, derived keys up to
 * MAX_KDF_KEY_LENGTH.
 * @throws KeymintError ERR_INPUT_INVALID for a cost above a bound or parameters that are not valid;
 *   ERR_ALG_NOT_SUPPORTED for a scheme, KDF, PRF or salt source keymint does not read
 * @example checkPkcs8Kdf(readPkcs8Encryption(root), 'key.pem')
 * @see https://www.rfc-editor.org/rfc/rfc7914#section-2 (scrypt parameters)
 */
export function checkPkcs8Kdf({ scheme, kdf }: Pkcs8Encryption, source: string): void {
  switch (kdf.kind) {
    case 'unsupported':
      throw unsupported(source, kdf.what, REENCRYPT_PKCS8);
    case 'PBES1':
    case 'PKCS#12': {
      const what = kdf.kind === 'PBES1' ? 'PBES1' : 'PKCS#12 PBE';
      checkCount(source, `${what} iteration count`, kdf.iterations, MAX_PBES2_COUNT);
      return;
    }
    case 'PBKDF2':
      if (!Object.hasOwn(PBKDF2_PRFS, kdf.prf)) {
        const accepted = `keymint reads PBKDF2 with ${oneOf(Object.values(PBKDF2_PRFS))}; ${REENCRYPT_PKCS8}`;
        throw unsupported(source, `${scheme}, PBKDF2 and pseudo-random function ${kdf.prf}`, accepted);
      }
      checkCount(source, 'PBKDF2 iteration count', kdf.iterations, MAX_PBES2_COUNT);
      if (kdf.keyLength !== undefined) checkCount(source, 'PBKDF2 key length', kdf.keyLength, MAX_KDF_KEY_LENGTH);
      return;
    case 'scrypt':
      checkScrypt(source, kdf);
  }
}

function checkScrypt(source: string, { n, r, p, keyLength }: Extract<Pkcs8Kdf, { kind: 'scrypt' }>): void {
  positive(source, 'scrypt blockSize r', r);
  positive(source, 'scrypt parallelizationParameter p', p);
  if (n < 2n || (n & (n - 1n)) !== 0n) {
    throw invalidParameter(source, `the scrypt costParameter N ${show(n)} is not a power of two above 1 (RFC 7914 §2)`);
  }
  const shown = `(N=${show(n)}, r=${show(r)}, p=${show(p)})`;
  // Each factor is at least 1, so a factor above the bound puts the product above it: no need to
  // multiply megabyte-long numbers to know.
  const work = n > MAX_SCRYPT_WORK || r > MAX_SCRYPT_WORK || p > MAX_SCRYPT_WORK ? undefined : n * r * p;
  if (work === undefined || work > BigInt(MAX_SCRYPT_WORK)) {
    throw tooCostly(source, 'scrypt work N*r*p', work === undefined ? shown : `${work} ${shown}`, MAX_SCRYPT_WORK);
  }
  if (r * p > BigInt(MAX_SCRYPT_BLOCKS)) throw tooCostly(source, 'scrypt r*p', `${r * p} ${shown}`, MAX_SCRYPT_BLOCKS);
  const memory = 128n * r * (n + 2n) + 128n * r * p;
  if (memory > BigInt(MAX_SCRYPT_MEMORY)) {
    const bound = `${MAX_SCRYPT_MEMORY} bytes (32 MiB)`;
    throw tooCostly(source, 'scrypt memory 128*r*(N+2+p)', `of ${memory} bytes ${shown}`, bound);
  }
  // RFC 7914 §2: N < 2^(128*r/8). With N*r*p <= 2^20 only r = 1 can break it (N >= 2^16).
  if (r === 1n && n >= 1n << 16n) {
    throw invalidParameter(source, `the scrypt costParameter N ${show(n)} is not below 2^(16*r) for r=1 (RFC 7914 §2)`);
  }
  if (keyLength !== undefined) checkCount(source, 'scrypt key length', keyLength, MAX_KDF_KEY_LENGTH);
}

/** A cursor over the SSH wire encoding (RFC 4251 §5): uint32 and length-prefixed strings. */
class SshReader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  uint32(field: string): number {
    if (this.offset + 4 > this.bytes.length) throw malformed(`the ${this.what} ends inside its ${field}`);
    const value = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length).readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  string(field: string): Uint8Array {
    const length = this.uint32(field);
    if (length > this.bytes.length - this.offset) {
      const left = this.bytes.length - this.offset;
      throw malformed(`the ${this.what} claims a ${field} of ${length} bytes, only ${left} remain`);
    }
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  text(field: string): string {
    return Buffer.from(this.string(field)).toString('latin1');
  }

  get atEnd(): boolean {
    return this.offset === this.bytes.length;
  }
}

/**
 * Reads the cipher and key derivation of an OpenSSH private key from its blob (the base64 body
 * of the PEM block), without deriving anything: magic, ciphername, kdfname, kdfoptions.
 * @throws KeymintError ERR_INPUT_INVALID when the blob is not openssh-key-v1 or ends too early
 * @example readOpenSshKdf(blob) // { cipher: 'aes256-ctr', kdf: 'bcrypt', rounds: 16 }
 * @see https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.key
 */
export function readOpenSshKdf(blob: Uint8Array): OpenSshKdf {
  if (blob.length < OPENSSH_MAGIC.length || !OPENSSH_MAGIC.equals(blob.subarray(0, OPENSSH_MAGIC.length))) {
    throw malformed('it does not start with "openssh-key-v1"');
  }
  const reader = new SshReader(blob.subarray(OPENSSH_MAGIC.length), 'key');
  const cipher = reader.text('ciphername');
  const kdf = reader.text('kdfname');
  const options = new SshReader(reader.string('kdfoptions'), 'kdfoptions');
  if (kdf === 'none') {
    if (cipher !== 'none') throw malformed(`it names cipher ${shownName(cipher)} but no key derivation function`);
    if (!options.atEnd) throw malformed('it has kdfoptions but no key derivation function');
    return { cipher, kdf };
  }
  if (kdf !== 'bcrypt') return { cipher, kdf };
  if (cipher === 'none') throw malformed('it names the bcrypt key derivation function but no cipher');
  if (options.string('bcrypt salt').length === 0) throw malformed('its bcrypt salt is empty');
  const rounds = options.uint32('bcrypt rounds');
  if (!options.atEnd) throw malformed('its kdfoptions go on after the bcrypt rounds');
  return { cipher, kdf, rounds };
}

/**
 * Refuses an OpenSSH key whose key derivation keymint cannot bound or whose bcrypt_pbkdf rounds
 * are above MAX_BCRYPT_ROUNDS, and one whose cipher sshpk cannot decrypt, before any password.
 * @throws KeymintError ERR_INPUT_INVALID for rounds of 0 or above the bound;
 *   ERR_ALG_NOT_SUPPORTED for a KDF other than bcrypt (or none) and a cipher keymint cannot decrypt
 * @example checkOpenSshKdf(readOpenSshKdf(blob), 'id_ed25519')
 */
export function checkOpenSshKdf({ cipher, kdf, rounds }: OpenSshKdf, source: string): void {
  if (kdf === 'none') return;
  if (kdf !== 'bcrypt') {
    const accepted = `keymint reads OpenSSH keys encrypted with bcrypt (ssh-keygen's); ${REENCRYPT_OPENSSH}`;
    throw unsupported(source, `key derivation function ${shownName(kdf)}`, accepted);
  }
  checkCount(source, 'OpenSSH bcrypt_pbkdf round count', BigInt(rounds ?? 0), MAX_BCRYPT_ROUNDS);
  if (!OPENSSH_CIPHERS.includes(cipher)) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} is encrypted with cipher ${shownName(cipher)}, which keymint cannot decrypt: ` +
        `it reads ${oneOf(OPENSSH_CIPHERS)}; ${REENCRYPT_OPENSSH}`,
    );
  }
}

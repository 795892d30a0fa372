import {
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  pbkdf2Sync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { ErrorCode, KeymintError } from './errors.js';
import { describeJwk, isPrivateJwk, toPublicJwk, type Jwk } from './jwk.js';
import { checkPassword } from './password.js';

/**
 * PBKDF2 iterations of an encrypted PKCS#8 export. OpenSSL's own default is 2048, far below what
 * a password needs today; keymint uses the count of its JWE files (OWASP 2023, PBKDF2-HMAC-SHA256).
 */
export const PEM_PBKDF2_COUNT = 600_000;

export interface PemExportOptions {
  /** Export the public key (SPKI) even when the JWK is private. */
  publicOnly?: boolean;
  /** Encrypt the private key (PKCS#8 with PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC) under this password. */
  password?: string;
  /** PBKDF2 iterations; default 600000. */
  pbkdf2Count?: number;
}

export interface ExportedPem {
  pem: string;
  /** What the PEM holds. */
  format: 'SPKI public key' | 'PKCS#8 private key' | 'encrypted PKCS#8 private key';
  /** True when the PEM holds a private key (the file must be kept private). */
  private: boolean;
}

function nodeKey<T>(jwk: Jwk, make: () => T): T {
  try {
    return make();
  } catch (cause) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the ${describeJwk(jwk)} JWK cannot be turned into a PEM key: it is malformed or of a type OpenSSL does not know`,
      { cause },
    );
  }
}

/** DER: tag, definite length (X.690 §8.1.3), content. */
function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  let length: Buffer;
  if (body.length < 0x80) length = Buffer.of(body.length);
  else {
    const octets: number[] = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
    length = Buffer.of(0x80 | octets.length, ...octets);
  }
  return Buffer.concat([Buffer.of(tag), length, body]);
}

const SEQUENCE = 0x30;
const derSequence = (...items: Uint8Array[]) => der(SEQUENCE, ...items);
const derOctets = (bytes: Uint8Array) => der(0x04, bytes);
const derNull = () => Buffer.of(0x05, 0x00);

function derInteger(value: number): Buffer {
  const octets: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  if (octets.length === 0 || (octets[0] as number) >= 0x80) octets.unshift(0);
  return der(0x02, Buffer.from(octets));
}

function derOid(oid: string): Buffer {
  const [first, second, ...rest] = oid.split('.').map(Number) as [number, number, ...number[]];
  const out: number[] = [first * 40 + second];
  for (const arc of rest) {
    const groups: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n & 0x7f) | 0x80);
    out.push(...groups);
  }
  return der(0x06, Buffer.from(out));
}

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
};

function toPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * EncryptedPrivateKeyInfo (RFC 5958 §3) with PBES2 (RFC 8018 §6.2): PBKDF2-HMAC-SHA256 with a
 * 16-byte salt, and AES-256-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it, with more
 * iterations.
 */
function encryptPkcs8(key: KeyObject, password: string, count: number): string {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const kek = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, count, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', kek, iv);
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const algorithm = derSequence(
    derOid(OID.pbes2),
    derSequence(
      derSequence(
        derOid(OID.pbkdf2),
        derSequence(derOctets(salt), derInteger(count), derSequence(derOid(OID.hmacWithSHA256), derNull())),
      ),
      derSequence(derOid(OID.aes256Cbc), derOctets(iv)),
    ),
  );
  return toPem('ENCRYPTED PRIVATE KEY', derSequence(algorithm, derOctets(encrypted)));
}

/**
 * Turns a JWK into PEM: the public key as SPKI ("PUBLIC KEY"), a private key as PKCS#8
 * ("PRIVATE KEY"), or, with a password, as encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY": PBES2,
 * PBKDF2-HMAC-SHA256, AES-256-CBC). A public JWK gives its SPKI. oct keys have no PEM form.
 * @throws KeymintError ERR_INPUT_INVALID for an oct or malformed key; ERR_PARAM_INVALID for a
 *   password with a public key, or an empty password
 * @example exportPem(privateJwk, { password: 'pw' }).pem // '-----BEGIN ENCRYPTED PRIVATE KEY-----...'
 * @see https://www.rfc-editor.org/rfc/rfc5958 (PKCS#8), https://www.rfc-editor.org/rfc/rfc5280#section-4.1.2.7 (SPKI), https://www.rfc-editor.org/rfc/rfc8018#section-6.2 (PBES2)
 */
export function exportPem(jwk: Jwk, options: PemExportOptions = {}): ExportedPem {
  if (jwk.kty === 'oct') {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      'an oct key has no PEM form: PEM holds public and private keys of key pairs, and an oct key is a shared secret',
    );
  }
  const wantPrivate = !options.publicOnly && isPrivateJwk(jwk);
  if (options.password !== undefined) {
    if (!wantPrivate)
      throw new KeymintError(
        ErrorCode.PARAM_INVALID,
        'a password encrypts private keys only: a public key is written as it is',
      );
    checkPassword(options.password);
  }
  if (!wantPrivate) {
    const key: KeyObject = nodeKey(jwk, () => createPublicKey({ key: toPublicJwk(jwk) as JsonWebKey, format: 'jwk' }));
    return { pem: key.export({ type: 'spki', format: 'pem' }) as string, format: 'SPKI public key', private: false };
  }
  const key = nodeKey(jwk, () => createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }));
  if (options.password === undefined)
    return { pem: key.export({ type: 'pkcs8', format: 'pem' }) as string, format: 'PKCS#8 private key', private: true };
  const count = options.pbkdf2Count ?? PEM_PBKDF2_COUNT;
  if (!Number.isSafeInteger(count) || count < 1000)
    throw new KeymintError(ErrorCode.PARAM_INVALID, `the PBKDF2 count ${count} is too low: use at least 1000`);
  return { pem: encryptPkcs8(key, options.password, count), format: 'encrypted PKCS#8 private key', private: true };
}

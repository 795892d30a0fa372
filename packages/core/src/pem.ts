import { X509Certificate, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type SshPK from 'sshpk';
import { DerTag, decodeBitString, decodeOid, derChildren, expectTag, parseDer, type DerElement } from './der.js';
import { ErrorCode, KeymintError, isKeymintError, message, oneOf, param, type MessageParts } from './errors.js';
import { checkOpenSshKdf, checkPkcs8Kdf, readOpenSshKdf, readPkcs8Encryption } from './kdf-bounds.js';
import { orderJwk, type Jwk } from './jwk.js';

export interface ImportedKey {
  /** The private JWK, when the input held a private key (all private members, no kid/use/alg). */
  privateJwk?: Jwk;
  /** The public JWK (kty + public members only, in orderJwk order, no kid/use/alg). */
  publicJwk: Jwk;
  /** For a CERTIFICATE input: [standard base64 (NOT base64url) DER of the certificate] for the JWK "x5c" member (RFC 7517 §4.7). */
  x5c?: string[];
  /** For a CERTIFICATE input: the use its KeyUsage extension dictates: 'sig' (digitalSignature and/or nonRepudiation/keyCertSign/cRLSign) or 'enc' (keyEncipherment, dataEncipherment, keyAgreement). */
  use?: 'sig' | 'enc';
  /** What the input was, for messages: e.g. 'PKCS#8 private key', 'certificate', 'OpenSSH private key'. */
  format: string;
}

export interface PemImportOptions {
  /** Called only when the input is encrypted (ENCRYPTED PRIVATE KEY, legacy Proc-Type: 4,ENCRYPTED, encrypted OpenSSH key). */
  password?: () => Promise<string>;
  /** Accept a certificate whose KeyUsage says both signing and encipherment, or neither (or has no KeyUsage extension). */
  subtle?: boolean;
  /** Name of the input for error messages, e.g. the file path. Default 'the PEM input'. */
  source?: string;
}

/** PEM labels keymint reads, with what each holds (the `format` of the result). */
const LABELS = {
  'PUBLIC KEY': 'SPKI public key',
  'RSA PUBLIC KEY': 'PKCS#1 RSA public key',
  'RSA PRIVATE KEY': 'PKCS#1 RSA private key',
  'EC PRIVATE KEY': 'SEC1 EC private key',
  'PRIVATE KEY': 'PKCS#8 private key',
  'ENCRYPTED PRIVATE KEY': 'encrypted PKCS#8 private key',
  'OPENSSH PRIVATE KEY': 'OpenSSH private key',
  CERTIFICATE: 'certificate',
} as const;
type Label = keyof typeof LABELS;
const ACCEPTED = `a PEM block labelled ${oneOf(Object.keys(LABELS))}, or a one-line OpenSSH public key`;

/** What keymint can express as a JWK; anything else Node parses is refused by name. */
const KEY_TYPES_HINT =
  'keymint reads RSA, EC (P-256, P-384, P-521, secp256k1) and OKP (Ed25519, Ed448, X25519, X448) keys';
const KEY_TYPE_NAMES: Record<string, string> = {
  dsa: 'a DSA',
  'rsa-pss': 'an RSA-PSS (id-RSASSA-PSS)',
  dh: 'a Diffie-Hellman',
};
const SUPPORTED_KEY_TYPES = new Set(['rsa', 'ec', 'ed25519', 'ed448', 'x25519', 'x448']);

/** X.509 KeyUsage bits (RFC 5280 §4.2.1.3) that say the key signs, and those that say it enciphers. */
const KEY_USAGE_OID = '2.5.29.15';
const SIGNING_BITS: Record<number, string> = {
  0: 'digitalSignature',
  1: 'nonRepudiation',
  5: 'keyCertSign',
  6: 'cRLSign',
};
const ENCIPHERMENT_BITS: Record<number, string> = { 2: 'keyEncipherment', 3: 'dataEncipherment', 4: 'keyAgreement' };

/** RFC 8410 §7 and §4: the fixed DER around a raw Ed25519 seed (PKCS#8) and public key (SPKI). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const SSH_PUBLIC_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
];
const SSH_PUBLIC_LINE = /^([A-Za-z0-9@.-]{1,64})[ \t]+(AAAA[A-Za-z0-9+/]+={0,2})(?:[ \t][^\r\n]*)?$/;

interface PemBlock {
  label: Label;
  headers: Map<string, string>;
  /** The base64 body, whitespace removed. */
  base64: string;
  der: Buffer;
}

type Password = PemImportOptions['password'];

/**
 * Reads one key from PEM text (or a one-line OpenSSH public key) into JWKs.
 * @throws KeymintError ERR_INPUT_INVALID when the text holds no PEM block, several, an unknown
 *   label, corrupt content, a certificate whose KeyUsage is ambiguous without `subtle`, or an
 *   encrypted key whose key derivation costs more than kdf-bounds.ts allows (checked before
 *   `password` is called); ERR_ALG_NOT_SUPPORTED for DSA keys, curves JWK has no name for,
 *   ciphers Node cannot decrypt and key derivations keymint cannot bound;
 *   ERR_PASSWORD_REQUIRED when the input is encrypted and there is no `password`;
 *   ERR_DECRYPT_FAILED for a wrong password. Errors thrown by `password` itself pass through.
 * @example const { privateJwk, publicJwk } = await importPem(await readFile('key.pem', 'utf8'), { source: 'key.pem' });
 * @see https://www.rfc-editor.org/rfc/rfc7468 (textual encodings), https://www.rfc-editor.org/rfc/rfc7517#section-4.7 (x5c)
 */
export async function importPem(text: string, options: PemImportOptions = {}): Promise<ImportedKey> {
  const source = options.source ?? 'the PEM input';
  const block = findPemBlock(text, source);
  if (block === undefined) {
    const line = text.trim();
    if (SSH_PUBLIC_LINE.test(line)) return importSshPublicKey(line, source);
    const what = line === '' ? 'is empty' : 'holds no PEM block';
    throw invalid(`${source} ${what}: give ${ACCEPTED}`);
  }
  const format: string = LABELS[block.label];
  const encrypted = block.headers.get('proc-type');
  if (encrypted !== undefined) return importLegacyEncrypted(block, encrypted, source, options.password);
  if (block.headers.size > 0)
    throw invalid(`${source}: the ${block.label} block has headers, which only legacy encrypted keys may have`);
  switch (block.label) {
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY':
      checkDer(block, source);
      return {
        ...toJwks(
          nodeParse(
            () =>
              createPublicKey({ key: block.der, format: 'der', type: block.label === 'PUBLIC KEY' ? 'spki' : 'pkcs1' }),
            block,
            source,
          ),
          source,
        ),
        format,
      };
    case 'RSA PRIVATE KEY':
    case 'EC PRIVATE KEY':
    case 'PRIVATE KEY': {
      checkDer(block, source);
      const type = block.label === 'PRIVATE KEY' ? 'pkcs8' : block.label === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs1';
      return {
        ...toJwks(
          nodeParse(() => createPrivateKey({ key: block.der, format: 'der', type }), block, source),
          source,
        ),
        format,
      };
    }
    case 'ENCRYPTED PRIVATE KEY':
      return importEncryptedPkcs8(block, source, options.password);
    case 'OPENSSH PRIVATE KEY':
      return importOpenSshPrivateKey(block, source, options.password);
    case 'CERTIFICATE':
      return importCertificate(block, source, options.subtle === true);
  }
}

function invalid(text: string | MessageParts, cause?: unknown): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, text, cause === undefined ? {} : { cause });
}

function corrupt(block: PemBlock, source: string, cause?: unknown): KeymintError {
  return invalid(
    `${source}: the ${block.label} block is corrupt: its content is not a valid ${LABELS[block.label]}`,
    cause,
  );
}

/** Finds the one PEM block in `text`; undefined when there is none. Text around it is ignored. */
function findPemBlock(text: string, source: string): PemBlock | undefined {
  const begins = [...text.matchAll(/-----BEGIN ([^\r\n]*?)-----/g)];
  const begin = begins[0];
  if (begin === undefined) return undefined;
  if (begins.length > 1) throw invalid(`${source} holds ${begins.length} PEM blocks: give exactly one`);
  const label = begin[1] ?? '';
  if (!Object.hasOwn(LABELS, label)) {
    // The label comes from the input: keep it only when it looks like a label, not like data.
    const shown = /^[A-Z0-9 ]{1,40}$/.test(label) ? `a ${label} block` : 'an unknown PEM block';
    throw invalid(`${source} holds ${shown}: give ${ACCEPTED}`);
  }
  const bodyStart = begin.index + begin[0].length;
  const endAt = text.indexOf(`-----END ${label}-----`, bodyStart);
  if (endAt < 0) throw invalid(`${source}: the ${label} block has no "-----END ${label}-----" line`);

  // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") come first; base64 never contains a colon.
  const headers = new Map<string, string>();
  const lines: string[] = [];
  for (const raw of text.slice(bodyStart, endAt).split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^([A-Za-z0-9-]+):(.*)$/.exec(line);
    if (header && lines.length === 0) headers.set((header[1] ?? '').toLowerCase(), (header[2] ?? '').trim());
    else if (line !== '') lines.push(line);
  }
  const base64 = lines.join('');
  if (base64 === '' || base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    throw invalid(`${source}: the ${label} block is corrupt: its content is not whole base64`);
  }
  return { label: label as Label, headers, base64, der: Buffer.from(base64, 'base64') };
}

/** A body that is not exactly one DER element was truncated or padded: say so before Node guesses. */
function checkDer(block: PemBlock, source: string): DerElement {
  try {
    return parseDer(block.der);
  } catch (error) {
    throw invalid(`${source}: the ${block.label} block is corrupt: ${(error as Error).message}`, error);
  }
}

function nodeParse(parse: () => KeyObject, block: PemBlock, source: string): KeyObject {
  try {
    return parse();
  } catch (error) {
    throw corrupt(block, source, error);
  }
}

/** The JWKs of a key Node has parsed, refusing key types and curves JWK cannot express. */
function toJwks(key: KeyObject, source: string): { privateJwk?: Jwk; publicJwk: Jwk } {
  const type = key.asymmetricKeyType ?? 'unknown';
  if (!SUPPORTED_KEY_TYPES.has(type)) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} holds ${KEY_TYPE_NAMES[type] ?? `a ${type}`} key: ${KEY_TYPES_HINT}`,
    );
  }
  try {
    const publicKey = key.type === 'private' ? createPublicKey(key) : key;
    const publicJwk = orderJwk(publicKey.export({ format: 'jwk' }) as Jwk);
    if (key.type !== 'private') return { publicJwk };
    return { privateJwk: orderJwk(key.export({ format: 'jwk' }) as Jwk), publicJwk };
  } catch (error) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const what =
      type === 'ec'
        ? `an EC key on ${curve === undefined ? 'an unnamed curve' : `curve ${curve}`}`
        : `a key of type ${type}`;
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} holds ${what}, which JWK cannot express: ${KEY_TYPES_HINT}`,
      { cause: error },
    );
  }
}

async function askPassword(password: Password, source: string): Promise<string> {
  if (password === undefined) {
    throw new KeymintError(
      ErrorCode.PASSWORD_REQUIRED,
      message`${source} is encrypted: give its password with ${param('pemPasswordFile')}`,
    );
  }
  return password();
}

/** Maps Node's decryption failure: a wrong password, a damaged ciphertext, or a cipher it lacks. */
function decryptFailed(error: unknown, source: string, scheme: string): KeymintError {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ERR_OSSL_EVP_UNSUPPORTED') {
    return new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} is encrypted with ${scheme}, which this Node's OpenSSL cannot decrypt: re-encrypt it with "openssl pkcs8 -topk8 -v2 aes-256-cbc"`,
      { cause: error },
    );
  }
  // A wrong key fails the CBC padding check 255 times in 256; other failures mean the decrypted
  // bytes did not parse, which is the 256th case or a damaged ciphertext.
  const detail = code === 'ERR_OSSL_BAD_DECRYPT' ? '' : ', or its encrypted content is damaged';
  return new KeymintError(ErrorCode.DECRYPT_FAILED, `wrong password for ${source}${detail}`, { cause: error });
}

async function importEncryptedPkcs8(block: PemBlock, source: string, password: Password): Promise<ImportedKey> {
  // EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING } (RFC 5958 §3).
  const scheme = describeScheme(block, source);
  const passphrase = await askPassword(password, source);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.der, format: 'der', type: 'pkcs8', passphrase });
  } catch (error) {
    throw decryptFailed(error, source, scheme);
  }
  return { ...toJwks(key, source), format: LABELS[block.label] };
}

/**
 * The encryption scheme of an EncryptedPrivateKeyInfo, for messages, once its shape is checked and
 * the cost of its key derivation bounded: a hostile count is refused before the password is asked.
 */
function describeScheme(block: PemBlock, source: string): string {
  const root = checkDer(block, source);
  const encryption = readStructure(block, source, () => readPkcs8Encryption(root));
  checkPkcs8Kdf(encryption, source);
  return encryption.scheme;
}

/** Runs a reader of the block's inner structure; what it finds malformed is said to be corrupt. */
function readStructure<T>(block: PemBlock, source: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!isKeymintError(error)) throw error;
    throw invalid(`${source}: the ${block.label} block is corrupt: ${error.message}`, error);
  }
}

async function importLegacyEncrypted(
  block: PemBlock,
  procType: string,
  source: string,
  password: Password,
): Promise<ImportedKey> {
  const dekInfo = block.headers.get('dek-info') ?? '';
  if (block.label !== 'RSA PRIVATE KEY' && block.label !== 'EC PRIVATE KEY') {
    throw invalid(
      `${source}: a ${block.label} block cannot carry a Proc-Type header; only RSA PRIVATE KEY and EC PRIVATE KEY can`,
    );
  }
  if (procType.replace(/\s/g, '') !== '4,ENCRYPTED' || !/^[A-Za-z0-9-]+,[0-9A-Fa-f]{16,32}$/.test(dekInfo)) {
    throw invalid(
      `${source}: the ${block.label} block has Proc-Type/DEK-Info headers that are not "4,ENCRYPTED" and "<cipher>,<hex IV>"`,
    );
  }
  // Every cipher OpenSSL writes here is a block cipher in CBC mode: a body of whole blocks.
  if (block.der.length % 8 !== 0)
    throw invalid(`${source}: the ${block.label} block is corrupt: its ciphertext is not whole cipher blocks`);
  // OpenSSL derives this key with one MD5 round (EVP_BytesToKey, count 1) whatever the file
  // says: unlike PKCS#8 and OpenSSH keys, there is no cost to bound.
  const passphrase = await askPassword(password, source);
  const pem = [
    `-----BEGIN ${block.label}-----`,
    'Proc-Type: 4,ENCRYPTED',
    `DEK-Info: ${dekInfo}`,
    '',
    ...wrap(block.base64, 64),
    `-----END ${block.label}-----`,
    '',
  ].join('\n');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (error) {
    throw decryptFailed(error, source, (dekInfo.split(',')[0] ?? '').toUpperCase());
  }
  return { ...toJwks(key, source), format: `encrypted ${LABELS[block.label]} (legacy PEM)` };
}

function wrap(base64: string, width: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += width) lines.push(base64.slice(i, i + width));
  return lines;
}

async function importCertificate(block: PemBlock, source: string, subtle: boolean): Promise<ImportedKey> {
  checkDer(block, source);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(block.der);
  } catch (error) {
    throw corrupt(block, source, error);
  }
  const { publicJwk } = toJwks(certificate.publicKey, source);
  const result: ImportedKey = { publicJwk, x5c: [block.der.toString('base64')], format: LABELS[block.label] };
  const bits = readKeyUsage(block, source);
  const signing = named(bits, SIGNING_BITS);
  const enciphering = named(bits, ENCIPHERMENT_BITS);
  if (signing.length > 0 && enciphering.length === 0) return { ...result, use: 'sig' };
  if (enciphering.length > 0 && signing.length === 0) return { ...result, use: 'enc' };
  if (subtle) return result;
  const why =
    bits === undefined
      ? 'has no KeyUsage extension, so it does not say whether the key signs or enciphers'
      : signing.length > 0
        ? `has a KeyUsage that allows both signing (${signing.join(', ')}) and encipherment (${enciphering.join(', ')})`
        : 'has a KeyUsage that allows neither signing nor encipherment';
  throw invalid(
    message`${source}: the certificate ${why}: to import it anyway give ${param('subtle')}, with ${param('use')} sig or ${param('use')} enc (default sig)`,
  );
}

function named(bits: boolean[] | undefined, names: Record<number, string>): string[] {
  return Object.entries(names).flatMap(([bit, name]) => (bits?.[Number(bit)] === true ? [name] : []));
}

/**
 * The KeyUsage bits of a certificate, undefined when it has no such extension. Node's
 * X509Certificate.keyUsage is the extended key usage, so this walks the DER itself.
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.1 (Certificate) and §4.2.1.3 (KeyUsage)
 */
function readKeyUsage(block: PemBlock, source: string): boolean[] | undefined {
  try {
    const [tbs] = derChildren(expectTag(parseDer(block.der), DerTag.SEQUENCE, 'Certificate'));
    // extensions are [3] EXPLICIT, present only in v3 certificates.
    const wrapper = derChildren(expectTag(tbs, DerTag.SEQUENCE, 'tbsCertificate')).find((e) => e.tag === 0xa3);
    if (wrapper === undefined) return undefined;
    for (const extension of derChildren(expectTag(derChildren(wrapper)[0], DerTag.SEQUENCE, 'Extensions'))) {
      const parts = derChildren(expectTag(extension, DerTag.SEQUENCE, 'Extension'));
      if (decodeOid(expectTag(parts[0], DerTag.OID, 'extnID')) !== KEY_USAGE_OID) continue;
      const value = expectTag(parts[parts.length - 1], DerTag.OCTET_STRING, 'extnValue');
      return decodeBitString(parseDer(value.content));
    }
    return undefined;
  } catch (error) {
    if (!isKeymintError(error)) throw error;
    throw invalid(`${source}: the certificate's extensions are corrupt: ${error.message}`, error);
  }
}

/** sshpk is plain JavaScript but sizeable: load it only for OpenSSH input. */
async function loadSshpk(): Promise<typeof SshPK> {
  return (await import('sshpk')).default;
}

async function importOpenSshPrivateKey(block: PemBlock, source: string, password: Password): Promise<ImportedKey> {
  // sshpk derives as many bcrypt rounds as the file says: read and bound them before it runs.
  checkOpenSshKdf(
    readStructure(block, source, () => readOpenSshKdf(block.der)),
    source,
  );
  const sshpk = await loadSshpk();
  const pem = [`-----BEGIN ${block.label}-----`, ...wrap(block.base64, 70), `-----END ${block.label}-----`, ''].join(
    '\n',
  );
  let format: string = LABELS[block.label];
  let key: SshPK.PrivateKey;
  try {
    key = sshpk.parsePrivateKey(pem, 'ssh-private');
  } catch (error) {
    if ((error as Error).name !== 'KeyEncryptedError') throw sshpkFailed(error, block, source);
    const passphrase = await askPassword(password, source);
    format = `encrypted ${format}`;
    try {
      key = sshpk.parsePrivateKey(pem, 'ssh-private', { passphrase });
    } catch (error2) {
      // sshpk reports a wrong passphrase through its check integers ("Incorrect passphrase").
      if (/passphrase|decrypt/i.test(innerMessage(error2))) {
        throw new KeymintError(ErrorCode.DECRYPT_FAILED, `wrong password for ${source}`, { cause: error2 });
      }
      throw sshpkFailed(error2, block, source);
    }
  }
  return { ...toJwks(sshPrivateToKeyObject(key, block, source), source), format };
}

function innerMessage(error: unknown): string {
  const inner = (error as { innerErr?: unknown } | undefined)?.innerErr;
  return `${(inner as Error | undefined)?.message ?? ''} ${(error as Error | undefined)?.message ?? ''}`;
}

function sshpkFailed(error: unknown, block: PemBlock, source: string): KeymintError {
  const algorithm = /Unknown (?:algorithm|key type) ([A-Za-z0-9@.-]{1,64})/.exec(innerMessage(error));
  if (algorithm) {
    return new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} holds an OpenSSH key of type ${algorithm[1]}: ${KEY_TYPES_HINT}`,
      { cause: error },
    );
  }
  return corrupt(block, source, error);
}

/** Hands an sshpk key to Node, so that JWK export is the same code path as every other format. */
function sshPrivateToKeyObject(key: SshPK.PrivateKey, block: PemBlock, source: string): KeyObject {
  if (key.type === 'ed25519') {
    // sshpk writes Ed25519 PKCS#8 as a v2 OneAsymmetricKey that OpenSSL 3.0 refuses, so build
    // the RFC 8410 v1 encoding from the seed, and check the stored public key against it.
    const seed = key.parts.find((p) => p.name === 'k')?.data;
    const stored = key.parts.find((p) => p.name === 'A')?.data;
    if (seed?.length !== 32 || stored?.length !== 32) throw corrupt(block, source);
    const derived = nodeParse(
      () => createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
      block,
      source,
    );
    if (createPublicKey(derived).export({ format: 'jwk' }).x !== stored.toString('base64url')) {
      throw invalid(`${source}: the OpenSSH private key is corrupt: its public key does not match its private key`);
    }
    return derived;
  }
  if (key.type === 'rsa')
    return nodeParse(() => createPrivateKey({ key: sshRsaJwk(key, block, source), format: 'jwk' }), block, source);
  if (key.type !== 'ecdsa') {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} holds an OpenSSH ${key.type.toUpperCase()} key: ${KEY_TYPES_HINT}`,
    );
  }
  return nodeParse(() => createPrivateKey(key.toString('pkcs8')), block, source);
}

/**
 * The private JWK of an OpenSSH RSA key. OpenSSH stores no CRT exponents and sshpk's PKCS#8
 * writer then puts zeros in their place, which OpenSSL accepts and signs wrongly with; so
 * compute dp and dq here (RFC 8017 §3.2).
 */
function sshRsaJwk(key: SshPK.PrivateKey, block: PemBlock, source: string): JsonWebKey {
  const part = (name: string): bigint => {
    const data = key.parts.find((p) => p.name === name)?.data;
    if (data === undefined || data.length === 0) throw corrupt(block, source);
    return BigInt(`0x${data.toString('hex')}`);
  };
  const [n, e, d, p, q, qi] = ['n', 'e', 'd', 'p', 'q', 'iqmp'].map(part) as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  if (p < 3n || q < 3n || p * q !== n || (q * qi) % p !== 1n) {
    throw invalid(`${source}: the OpenSSH private key is corrupt: its RSA parameters do not agree`);
  }
  const b64 = (value: bigint): string => {
    const hex = value.toString(16);
    return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
  };
  return {
    kty: 'RSA',
    n: b64(n),
    e: b64(e),
    d: b64(d),
    p: b64(p),
    q: b64(q),
    dp: b64(d % (p - 1n)),
    dq: b64(d % (q - 1n)),
    qi: b64(qi),
  };
}

async function importSshPublicKey(line: string, source: string): Promise<ImportedKey> {
  const type = SSH_PUBLIC_LINE.exec(line)?.[1] ?? '';
  if (!SSH_PUBLIC_TYPES.includes(type)) {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `${source} holds an OpenSSH public key of type ${type}: give one of type ${oneOf(SSH_PUBLIC_TYPES)}`,
    );
  }
  const sshpk = await loadSshpk();
  const format = 'OpenSSH public key';
  const fail = (cause?: unknown) =>
    invalid(`${source}: the ${type} public key is corrupt: its content is not a valid ${format}`, cause);
  let key: SshPK.Key;
  let spki: KeyObject;
  try {
    key = sshpk.parseKey(line, 'ssh');
  } catch (error) {
    throw fail(error);
  }
  const stored = key.parts.find((p) => p.name === 'A')?.data;
  try {
    spki =
      key.type === 'ed25519' && stored?.length === 32
        ? createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, stored]), format: 'der', type: 'spki' })
        : createPublicKey(key.toString('pkcs8'));
  } catch (error) {
    throw fail(error);
  }
  return { ...toJwks(spki, source), format };
}

import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { asCommandLine, rejection } from '@keymint/test-kit';
import { ErrorCode, type KeymintError } from '../src/errors.js';
import { toPublicJwk, type Jwk } from '../src/jwk.js';
import { importPem, type ImportedKey, type PemImportOptions } from '../src/pem.js';

// Fixtures come from the real openssl and ssh-keygen binaries; expected values come from those
// tools too (openssl pkey/x509 output, ssh-keygen conversions), never from the code under test.

const PASSWORD = 'correct horse 7';
const WRONG = 'wrong battery 9';
const SSH_PASSPHRASE = 'ssh phrase 42';

let dir: string;

function run(cmd: string, args: string[], cwd = dir): string {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}
const openssl = (...args: string[]): string => run('openssl', args);
const file = (name: string): string => readFileSync(join(dir, name), 'utf8');

/** The public JWK of a key file as openssl sees it: `openssl pkey -pubout`, read back by Node. */
function opensslPublic(name: string, password?: string): Jwk {
  const pem = openssl('pkey', '-in', name, '-pubout', ...(password ? ['-passin', `pass:${password}`] : []));
  return createPublicKey(pem).export({ format: 'jwk' }) as Jwk;
}
/** The private JWK of a key file after openssl decrypted and rewrote it as plain PKCS#8. */
function opensslPrivate(name: string, password?: string): Jwk {
  const pem = openssl('pkey', '-in', name, ...(password ? ['-passin', `pass:${password}`] : []));
  return createPrivateKey(pem).export({ format: 'jwk' }) as Jwk;
}

const PRIVATE_ORDER: Record<string, string[]> = {
  RSA: ['kty', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'],
  EC: ['kty', 'crv', 'x', 'y', 'd'],
  OKP: ['kty', 'crv', 'x', 'd'],
};
const PUBLIC_ORDER: Record<string, string[]> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

/** The shape every import must have: members in keymint order, public = private minus secrets. */
function expectWellFormed(result: ImportedKey): void {
  const { privateJwk, publicJwk } = result;
  expect(Object.keys(publicJwk)).toEqual(PUBLIC_ORDER[publicJwk.kty]);
  if (privateJwk !== undefined) {
    expect(Object.keys(privateJwk)).toEqual(PRIVATE_ORDER[privateJwk.kty]);
    expect(publicJwk).toEqual(toPublicJwk(privateJwk));
  }
}

async function importFile(name: string, options: PemImportOptions = {}): Promise<ImportedKey> {
  const result = await importPem(file(name), { source: name, ...options });
  expectWellFormed(result);
  return result;
}

const withPassword = (password: string): PemImportOptions => ({ password: async () => password });

/** The base64 lines of a PEM text: none of them may appear in an error message. */
function base64Lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => /^[A-Za-z0-9+/=]{16,}$/.test(line));
}

async function expectFailure(
  text: string,
  code: ErrorCode,
  options: PemImportOptions & { includes?: (string | RegExp)[] } = {},
): Promise<KeymintError> {
  const error = await rejection<KeymintError>(importPem(text, options), code);
  const message = asCommandLine(error);
  expect(message).not.toMatch(/[\r\n]/);
  expect(message.length).toBeGreaterThan(10);
  for (const secret of [PASSWORD, WRONG, SSH_PASSPHRASE]) expect(message).not.toContain(secret);
  for (const line of base64Lines(text)) expect(message).not.toContain(line.slice(0, 16));
  for (const part of options.includes ?? []) expect(message).toMatch(part);
  return error;
}

/** Drops one whole base64 line from the middle of the block: the base64 stays well-formed. */
function dropMiddleLine(text: string, lines = 1): string {
  const all = text.split('\n');
  const body = all.flatMap((line, i) => (/^[A-Za-z0-9+/]{64,70}$/.test(line) ? [i] : []));
  const at = body[Math.floor(body.length / 2)]!;
  all.splice(at, lines);
  return all.join('\n');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymint-pem-'));
  const sub = (name: string): string => {
    mkdirSync(join(dir, name));
    return join(dir, name);
  };

  // The exact commands from the docs, in their own directories because the file names repeat.
  const rsa4096 = sub('rsa4096');
  run('openssl', ['genrsa', '-out', 'private.key', '4096'], rsa4096);
  run('openssl', ['rsa', '-in', 'private.key', '-pubout', '-outform', 'PEM', '-out', 'public.key'], rsa4096);
  const sshPem = sub('ssh-pem');
  run('ssh-keygen', ['-t', 'rsa', '-b', '4096', '-m', 'PEM', '-N', '', '-f', 'key'], sshPem);
  writeFileSync(join(sshPem, 'public.key'), run('ssh-keygen', ['-f', 'key', '-e', '-m', 'PKCS8'], sshPem));

  openssl('genrsa', '-out', 'rsa.key', '2048');
  openssl('rsa', '-in', 'rsa.key', '-traditional', '-out', 'rsa-pkcs1.key');
  openssl('rsa', '-in', 'rsa.key', '-RSAPublicKey_out', '-out', 'rsa-pkcs1.pub');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec-p256.key');
  for (const [name, curve] of [
    ['ec-p384', 'P-384'],
    ['ec-p521', 'P-521'],
    ['ec-secp256k1', 'secp256k1'],
    ['ec-brainpool', 'brainpoolP256r1'],
  ]) {
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve!}`, '-out', `${name!}.key`);
  }
  for (const algorithm of ['ed25519', 'ed448', 'x25519', 'x448'])
    openssl('genpkey', '-algorithm', algorithm, '-out', `${algorithm}.key`);

  openssl(
    'pkcs8',
    '-topk8',
    '-v2',
    'aes-256-cbc',
    '-in',
    'rsa.key',
    '-passout',
    `pass:${PASSWORD}`,
    '-out',
    'rsa-enc-pkcs8.key',
  );
  openssl(
    'pkcs8',
    '-topk8',
    '-v2',
    'aes-256-cbc',
    '-in',
    'ed25519.key',
    '-passout',
    `pass:${PASSWORD}`,
    '-out',
    'ed25519-enc-pkcs8.key',
  );
  // OpenSSL 3 `rsa -aes256` writes encrypted PKCS#8; the legacy Proc-Type form needs -traditional.
  openssl('rsa', '-in', 'rsa.key', '-aes256', '-passout', `pass:${PASSWORD}`, '-out', 'rsa-aes256-default.key');
  openssl('rsa', '-in', 'rsa.key', '-aes256', '-traditional', '-passout', `pass:${PASSWORD}`, '-out', 'rsa-legacy.key');
  openssl('ec', '-in', 'ec-p256.key', '-aes256', '-passout', `pass:${PASSWORD}`, '-out', 'ec-legacy.key');
  // A PKCS#12-era cipher that Node's OpenSSL (no legacy provider) cannot decrypt.
  openssl(
    'pkcs8',
    '-topk8',
    '-v1',
    'PBE-SHA1-RC2-40',
    '-provider',
    'legacy',
    '-provider',
    'default',
    '-in',
    'rsa.key',
    '-passout',
    `pass:${PASSWORD}`,
    '-out',
    'rsa-rc2.key',
  );

  openssl('genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', 'dsa-params.pem');
  openssl('genpkey', '-paramfile', 'dsa-params.pem', '-out', 'dsa.key');
  openssl('dsa', '-in', 'dsa.key', '-out', 'dsa-traditional.key');
  openssl('ecparam', '-name', 'prime256v1', '-out', 'ec-params.pem');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ec-with-params.key');

  for (const [name, args] of [
    ['ssh-ed25519', ['-t', 'ed25519']],
    ['ssh-ecdsa', ['-t', 'ecdsa']],
    ['ssh-ecdsa384', ['-t', 'ecdsa', '-b', '384']],
    ['ssh-ecdsa521', ['-t', 'ecdsa', '-b', '521']],
    ['ssh-rsa', ['-t', 'rsa']],
    ['ssh-dsa', ['-t', 'dsa']],
  ] as const) {
    run('ssh-keygen', ['-q', ...args, '-N', '', '-C', 'keymint@test', '-f', name]);
  }
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', SSH_PASSPHRASE, '-C', 'keymint@test', '-f', 'ssh-ed25519-enc']);
  run('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', SSH_PASSPHRASE, '-C', 'keymint@test', '-f', 'ssh-ecdsa-enc']);
  // ssh-keygen's own rewrite to PKCS#8 is the independent reading of RSA and ECDSA keys.
  for (const name of ['ssh-ecdsa', 'ssh-ecdsa384', 'ssh-ecdsa521', 'ssh-rsa']) {
    writeFileSync(join(dir, `${name}.pkcs8`), file(name), { mode: 0o600 }); // ssh-keygen refuses looser modes
    run('ssh-keygen', ['-p', '-m', 'PKCS8', '-P', '', '-N', '', '-f', `${name}.pkcs8`]);
  }

  for (const [name, key, usage] of [
    ['cert-sig', 'ec:ec-p256.key', 'digitalSignature'],
    ['cert-enc', 'rsa:2048', 'keyEncipherment'],
    ['cert-both', 'rsa:2048', 'digitalSignature,keyEncipherment'],
    ['cert-none', 'rsa:2048', undefined],
    ['cert-nonrepudiation', 'rsa:2048', 'nonRepudiation'],
    ['cert-ca', 'ec:ec-p256.key', 'keyCertSign,cRLSign'],
    ['cert-agreement', 'ec:ec-p256.key', 'keyAgreement'],
    ['cert-encipher-only', 'ec:ec-p256.key', 'keyAgreement,encipherOnly,digitalSignature'],
    ['cert-only-encipher-only', 'rsa:2048', 'encipherOnly'],
    ['cert-ed25519', 'ed25519', 'digitalSignature'],
  ] as const) {
    const newkey = key.startsWith('ec:') ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', key];
    const ext = usage === undefined ? [] : ['-addext', `keyUsage=${usage}`];
    openssl(
      'req',
      '-x509',
      ...newkey,
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
      ...ext,
    );
  }
  openssl(
    'pkcs12',
    '-export',
    '-in',
    'cert-sig.pem',
    '-inkey',
    'cert-sig.key',
    '-out',
    'bundle.p12',
    '-passout',
    `pass:${PASSWORD}`,
  );
  writeFileSync(
    join(dir, 'bundle-cert.pem'),
    openssl('pkcs12', '-in', 'bundle.p12', '-nokeys', '-passin', `pass:${PASSWORD}`),
  );
  writeFileSync(
    join(dir, 'bundle-key.pem'),
    openssl('pkcs12', '-in', 'bundle.p12', '-nocerts', '-nodes', '-passin', `pass:${PASSWORD}`),
  );
  writeFileSync(
    join(dir, 'bundle-both.pem'),
    openssl('pkcs12', '-in', 'bundle.p12', '-nodes', '-passin', `pass:${PASSWORD}`),
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('keys written by openssl', () => {
  it('reads `openssl genrsa -out private.key 4096` and its `openssl rsa -pubout` public key', async () => {
    const priv = await importFile('rsa4096/private.key');
    expect(file('rsa4096/private.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/); // OpenSSL 3 writes PKCS#8
    expect(priv.format).toBe('PKCS#8 private key');
    expect(priv.privateJwk).toEqual(opensslPrivate('rsa4096/private.key'));
    // Independent of Node: the modulus as `openssl rsa -modulus` prints it.
    const modulus = openssl('rsa', '-in', 'rsa4096/private.key', '-noout', '-modulus')
      .trim()
      .replace(/^Modulus=/, '');
    expect(Buffer.from(priv.publicJwk.n!, 'base64url').toString('hex').toUpperCase()).toBe(modulus);
    expect(Buffer.from(priv.publicJwk.n!, 'base64url').length).toBe(512);

    const pub = await importFile('rsa4096/public.key');
    expect(pub.format).toBe('SPKI public key');
    expect(pub.privateJwk).toBeUndefined();
    expect(pub.publicJwk).toEqual(priv.publicJwk);
  });

  it('reads `ssh-keygen -t rsa -b 4096 -m PEM` and its `ssh-keygen -e -m PKCS8` public key', async () => {
    expect(file('ssh-pem/key')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    const priv = await importFile('ssh-pem/key');
    expect(priv.format).toBe('PKCS#1 RSA private key');
    expect(priv.privateJwk).toEqual(opensslPrivate('ssh-pem/key'));
    const pub = await importFile('ssh-pem/public.key');
    expect(file('ssh-pem/public.key')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(pub.publicJwk).toEqual(priv.publicJwk);
    expect(pub.publicJwk).toEqual(opensslPublic('ssh-pem/key'));
  });

  it.each([
    ['rsa.key', 'PKCS#8 private key', 'RSA'],
    ['rsa-pkcs1.key', 'PKCS#1 RSA private key', 'RSA'],
    ['ec-p256.key', 'SEC1 EC private key', 'P-256'],
    ['ec-p384.key', 'PKCS#8 private key', 'P-384'],
    ['ec-p521.key', 'PKCS#8 private key', 'P-521'],
    ['ec-secp256k1.key', 'PKCS#8 private key', 'secp256k1'],
    ['ed25519.key', 'PKCS#8 private key', 'Ed25519'],
    ['ed448.key', 'PKCS#8 private key', 'Ed448'],
    ['x25519.key', 'PKCS#8 private key', 'X25519'],
    ['x448.key', 'PKCS#8 private key', 'X448'],
  ])('reads %s (%s, %s) as openssl does', async (name, format, kind) => {
    const result = await importFile(name);
    expect(result.format).toBe(format);
    expect(result.privateJwk?.crv ?? result.privateJwk?.kty).toBe(kind);
    expect(result.privateJwk).toEqual(opensslPrivate(name));
    expect(result.publicJwk).toEqual(opensslPublic(name));
    expect(result.x5c).toBeUndefined();
    expect(result.use).toBeUndefined();
  });

  it('reads EC and OKP public points that match openssl bytes exactly', async () => {
    // Independent of Node: the raw public key is the tail of openssl's DER SubjectPublicKeyInfo.
    for (const name of ['ec-p384.key', 'ed448.key', 'x25519.key']) {
      const spki = execFileSync('openssl', ['pkey', '-in', name, '-pubout', '-outform', 'DER'], { cwd: dir });
      const { publicJwk } = await importFile(name);
      const raw = Buffer.concat([
        ...(publicJwk.kty === 'EC' ? [Buffer.of(4)] : []),
        Buffer.from(publicJwk.x!, 'base64url'),
        Buffer.from(publicJwk.y ?? '', 'base64url'),
      ]);
      expect(spki.subarray(spki.length - raw.length)).toEqual(raw);
    }
  });

  it('reads `openssl rsa -RSAPublicKey_out` (RSA PUBLIC KEY)', async () => {
    expect(file('rsa-pkcs1.pub')).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
    const result = await importFile('rsa-pkcs1.pub');
    expect(result.format).toBe('PKCS#1 RSA public key');
    expect(result.privateJwk).toBeUndefined();
    expect(result.publicJwk).toEqual(opensslPublic('rsa.key'));
  });

  it('reads the same key the same way whatever the container', async () => {
    const keys = await Promise.all(['rsa.key', 'rsa-pkcs1.key'].map((n) => importFile(n)));
    const encrypted = await importFile('rsa-enc-pkcs8.key', withPassword(PASSWORD));
    const legacy = await importFile('rsa-legacy.key', withPassword(PASSWORD));
    for (const other of [keys[1]!, encrypted, legacy]) expect(other.privateJwk).toEqual(keys[0]!.privateJwk);
  });

  it('accepts CRLF line ends and text around the block', async () => {
    const text = `# made by openssl genpkey\r\n${file('ed25519.key').replace(/\n/g, '\r\n')}\r\ntrailing notes\r\n`;
    const result = await importPem(text);
    expect(result.privateJwk).toEqual(opensslPrivate('ed25519.key'));
  });

  it('does not ask for a password for keys that are not encrypted', async () => {
    const password = vi.fn(async () => PASSWORD);
    await importFile('rsa.key', { password });
    await importFile('ec-p256.key', { password });
    await importFile('ssh-ed25519', { password });
    expect(password).not.toHaveBeenCalled();
  });
});

describe('encrypted keys written by openssl', () => {
  it.each([
    ['rsa-enc-pkcs8.key', 'encrypted PKCS#8 private key', /^-----BEGIN ENCRYPTED PRIVATE KEY-----/],
    ['ed25519-enc-pkcs8.key', 'encrypted PKCS#8 private key', /^-----BEGIN ENCRYPTED PRIVATE KEY-----/],
    ['rsa-aes256-default.key', 'encrypted PKCS#8 private key', /^-----BEGIN ENCRYPTED PRIVATE KEY-----/],
    [
      'rsa-legacy.key',
      'encrypted PKCS#1 RSA private key (legacy PEM)',
      /^-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,/,
    ],
    [
      'ec-legacy.key',
      'encrypted SEC1 EC private key (legacy PEM)',
      /^-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,/,
    ],
  ])('reads %s with its password', async (name, format, header) => {
    expect(file(name)).toMatch(header);
    const password = vi.fn(async () => PASSWORD);
    const result = await importFile(name, { password });
    expect(password).toHaveBeenCalledTimes(1);
    expect(result.format).toBe(format);
    expect(result.privateJwk).toEqual(opensslPrivate(name, PASSWORD));
    expect(result.publicJwk).toEqual(opensslPublic(name, PASSWORD));
  });

  it.each(['rsa-enc-pkcs8.key', 'rsa-legacy.key', 'ec-legacy.key', 'ssh-ed25519-enc'])(
    '%s without a password callback: ERR_PASSWORD_REQUIRED',
    async (name) => {
      await expectFailure(file(name), ErrorCode.PASSWORD_REQUIRED, {
        source: name,
        includes: [name, /is encrypted/, /--pem-password-file/],
      });
    },
  );

  it.each([
    'rsa-enc-pkcs8.key',
    'ed25519-enc-pkcs8.key',
    'rsa-legacy.key',
    'ec-legacy.key',
    'ssh-ed25519-enc',
    'ssh-ecdsa-enc',
  ])('%s with a wrong password: ERR_DECRYPT_FAILED', async (name) => {
    const error = await expectFailure(file(name), ErrorCode.DECRYPT_FAILED, {
      source: name,
      ...withPassword(WRONG),
      includes: [`wrong password for ${name}`],
    });
    expect(error.cause).toBeDefined();
  });

  it('refuses a cipher Node cannot decrypt with ERR_ALG_NOT_SUPPORTED, naming it', async () => {
    await expectFailure(file('rsa-rc2.key'), ErrorCode.ALG_NOT_SUPPORTED, {
      source: 'rsa-rc2.key',
      ...withPassword(PASSWORD),
      includes: [/1\.2\.840\.113549\.1\.12\.1\.6/, /openssl pkcs8 -topk8 -v2 aes-256-cbc/],
    });
  });
});

describe('OpenSSH keys written by ssh-keygen', () => {
  it.each(['ssh-ecdsa', 'ssh-ecdsa384', 'ssh-ecdsa521', 'ssh-rsa'])(
    'reads %s as ssh-keygen -m PKCS8 rewrites it',
    async (name) => {
      expect(file(name)).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
      const result = await importFile(name);
      expect(result.format).toBe('OpenSSH private key');
      expect(result.privateJwk).toEqual(opensslPrivate(`${name}.pkcs8`));
    },
  );

  /** The Ed25519 public key in an ssh-keygen .pub line: the last 32 bytes of its wire blob. */
  const sshEd25519PublicKey = (line: string): Buffer => Buffer.from(line.split(' ')[1]!, 'base64').subarray(-32);

  it.each([
    ['ssh-ed25519', undefined],
    ['ssh-ed25519-enc', SSH_PASSPHRASE],
  ])('reads %s: x is the key in the .pub file, d signs for it', async (name, passphrase) => {
    const password = vi.fn(async () => passphrase ?? '');
    const result = await importFile(name, { password });
    expect(password).toHaveBeenCalledTimes(passphrase === undefined ? 0 : 1);
    expect(result.format).toBe(passphrase === undefined ? 'OpenSSH private key' : 'encrypted OpenSSH private key');
    const x = sshEd25519PublicKey(file(`${name}.pub`));
    expect(result.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url') });
    const message = Buffer.from('keymint');
    const signature = sign(null, message, createPrivateKey({ key: result.privateJwk!, format: 'jwk' }));
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), x]);
    expect(verify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)).toBe(true);
  });

  it('reads an encrypted ECDSA key as `ssh-keygen -y` derives its public key', async () => {
    const result = await importFile('ssh-ecdsa-enc', withPassword(SSH_PASSPHRASE));
    const line = run('ssh-keygen', ['-y', '-P', SSH_PASSPHRASE, '-f', 'ssh-ecdsa-enc']);
    expect((await importPem(line)).publicJwk).toEqual(result.publicJwk);
    expect(line.split(' ')[1]).toBe(file('ssh-ecdsa-enc.pub').split(' ')[1]);
  });

  it.each(['ssh-ed25519', 'ssh-ecdsa', 'ssh-ecdsa384', 'ssh-ecdsa521', 'ssh-rsa'])(
    'reads the one-line public key %s.pub',
    async (name) => {
      const result = await importFile(`${name}.pub`);
      expect(result.format).toBe('OpenSSH public key');
      expect(result.privateJwk).toBeUndefined();
      expect(result.publicJwk).toEqual((await importFile(name)).publicJwk);
      if (name !== 'ssh-ed25519') {
        // ssh-keygen's SPKI export of the .pub line, read back by Node, is the independent view.
        const spki = run('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', `${name}.pub`]);
        expect(result.publicJwk).toEqual(createPublicKey(spki).export({ format: 'jwk' }));
      }
    },
  );

  it('refuses OpenSSH DSA keys with ERR_ALG_NOT_SUPPORTED', async () => {
    await expectFailure(file('ssh-dsa'), ErrorCode.ALG_NOT_SUPPORTED, { source: 'ssh-dsa', includes: [/DSA/] });
    await expectFailure(file('ssh-dsa.pub'), ErrorCode.ALG_NOT_SUPPORTED, {
      source: 'ssh-dsa.pub',
      includes: [/ssh-dss/],
    });
  });
});

describe('certificates from openssl req -x509', () => {
  it.each([
    ['cert-sig', 'sig'],
    ['cert-enc', 'enc'],
    ['cert-nonrepudiation', 'sig'],
    ['cert-ca', 'sig'],
    ['cert-agreement', 'enc'],
    ['cert-ed25519', 'sig'],
  ] as const)('%s: use %s, public key and x5c as openssl sees them', async (name, use) => {
    const result = await importFile(`${name}.pem`);
    expect(result.format).toBe('certificate');
    expect(result.use).toBe(use);
    expect(result.privateJwk).toBeUndefined();
    const pubkey = openssl('x509', '-in', `${name}.pem`, '-pubkey', '-noout');
    expect(result.publicJwk).toEqual(createPublicKey(pubkey).export({ format: 'jwk' }));
    expect(result.publicJwk).toEqual(opensslPublic(`${name}.key`));
    const der = execFileSync('openssl', ['x509', '-in', `${name}.pem`, '-outform', 'DER'], { cwd: dir });
    expect(result.x5c).toHaveLength(1);
    expect(result.x5c![0]).toMatch(/^[A-Za-z0-9+/]+={0,2}$/); // standard base64, not base64url
    expect(Buffer.from(result.x5c![0]!, 'base64')).toEqual(der);
  });

  it.each([
    ['cert-both', /both signing \(digitalSignature\) and encipherment \(keyEncipherment\)/],
    ['cert-encipher-only', /both signing \(digitalSignature\) and encipherment \(keyAgreement\)/],
    ['cert-none', /no KeyUsage extension/],
    ['cert-only-encipher-only', /neither signing nor encipherment/],
  ])('refuses %s without --subtle, and takes it without a use with it', async (name, why) => {
    await expectFailure(file(`${name}.pem`), ErrorCode.INPUT_INVALID, {
      source: `${name}.pem`,
      includes: [why, /--subtle/, `${name}.pem`],
    });
    const result = await importFile(`${name}.pem`, { subtle: true });
    expect(result.use).toBeUndefined();
    expect(result.publicJwk).toEqual(opensslPublic(`${name}.key`));
    expect(result.x5c).toHaveLength(1);
  });

  it('keeps the use of a clear certificate under --subtle', async () => {
    expect((await importFile('cert-enc.pem', { subtle: true })).use).toBe('enc');
  });

  it('reads `openssl pkcs12 -nokeys` and `-nocerts` output, Bag Attributes and all', async () => {
    expect(file('bundle-cert.pem')).toMatch(/^Bag Attributes/);
    const cert = await importFile('bundle-cert.pem');
    expect(cert.x5c).toEqual((await importFile('cert-sig.pem')).x5c);
    expect(file('bundle-key.pem')).toMatch(/^Bag Attributes/);
    const key = await importFile('bundle-key.pem');
    expect(key.privateJwk).toEqual(opensslPrivate('cert-sig.key'));
    expect(key.publicJwk).toEqual(cert.publicJwk);
  });
});

describe('refusals', () => {
  const ACCEPTED = [/PUBLIC KEY/, /RSA PRIVATE KEY/, /ENCRYPTED PRIVATE KEY/, /OPENSSH PRIVATE KEY/, /CERTIFICATE/];

  it.each([
    ['empty input', ''],
    ['blank lines', '  \n\n'],
    ['plain text', 'hello world'],
    ['a JWK', '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'],
    ['random bytes', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) % 256)).toString('latin1')],
  ])('%s: ERR_INPUT_INVALID listing the accepted blocks', async (_name, text) => {
    await expectFailure(text, ErrorCode.INPUT_INVALID, {
      source: 'in.pem',
      includes: [/^in\.pem (is empty|holds no PEM block)/, ...ACCEPTED],
    });
  });

  it('reads a certificate in DER as no PEM block, and names the default source', async () => {
    const der = execFileSync('openssl', ['x509', '-in', 'cert-sig.pem', '-outform', 'DER'], { cwd: dir });
    await expectFailure(der.toString('latin1'), ErrorCode.INPUT_INVALID, {
      includes: [/^the PEM input holds no PEM block/],
    });
  });

  it.each([
    ['`openssl ecparam -genkey` without -noout', 'ec-with-params.key', 2],
    ['a certificate followed by its key', 'bundle-both.pem', 2],
  ])('%s: ERR_INPUT_INVALID, N PEM blocks', async (_name, name, count) => {
    await expectFailure(file(name), ErrorCode.INPUT_INVALID, {
      source: name,
      includes: [`${name} holds ${count} PEM blocks: give exactly one`],
    });
  });

  it('counts blocks even when they are concatenated by hand', async () => {
    const text = file('rsa.key') + file('ec-p256.key') + file('cert-sig.pem');
    await expectFailure(text, ErrorCode.INPUT_INVALID, { includes: [/holds 3 PEM blocks/] });
  });

  it.each([
    ['DSA PRIVATE KEY from `openssl dsa`', () => file('dsa-traditional.key'), /DSA PRIVATE KEY/],
    ['EC PARAMETERS from `openssl ecparam`', () => file('ec-params.pem'), /EC PARAMETERS/],
    [
      'X509 CRL',
      () => '-----BEGIN X509 CRL-----\nMIIBnzCBiAIBATANBgkqhkiG9w0BAQsFADAQ\n-----END X509 CRL-----\n',
      /X509 CRL/,
    ],
  ])('unknown label %s: ERR_INPUT_INVALID listing the accepted labels', async (_name, text, label) => {
    const pem = text();
    expect(pem).toMatch(label);
    await expectFailure(pem, ErrorCode.INPUT_INVALID, { includes: [label, ...ACCEPTED] });
  });

  it('refuses a DSA key Node can parse with ERR_ALG_NOT_SUPPORTED', async () => {
    expect(file('dsa.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    await expectFailure(file('dsa.key'), ErrorCode.ALG_NOT_SUPPORTED, {
      source: 'dsa.key',
      includes: [/DSA key/, /RSA, EC/],
    });
  });

  it('refuses a brainpool key with ERR_ALG_NOT_SUPPORTED, naming the curve', async () => {
    await expectFailure(file('ec-brainpool.key'), ErrorCode.ALG_NOT_SUPPORTED, {
      source: 'ec-brainpool.key',
      includes: [/brainpoolP256r1/],
    });
  });

  it.each([
    ['PRIVATE KEY', 'rsa.key', 1],
    ['PUBLIC KEY', 'rsa4096/public.key', 1],
    ['RSA PRIVATE KEY', 'rsa-pkcs1.key', 1],
    ['CERTIFICATE', 'cert-enc.pem', 1],
    ['OPENSSH PRIVATE KEY', 'ssh-rsa', 2],
  ])('truncated base64 in a %s block: ERR_INPUT_INVALID', async (_label, name, lines) => {
    const text = dropMiddleLine(file(name), lines);
    expect(text).not.toBe(file(name));
    await expectFailure(text, ErrorCode.INPUT_INVALID, { source: name, includes: [/corrupt/] });
  });

  it('truncated ENCRYPTED PRIVATE KEY: ERR_INPUT_INVALID before asking for the password', async () => {
    const password = vi.fn(async () => PASSWORD);
    await expectFailure(dropMiddleLine(file('rsa-enc-pkcs8.key')), ErrorCode.INPUT_INVALID, {
      password,
      includes: [/corrupt/],
    });
    expect(password).not.toHaveBeenCalled();
  });

  it('a base64 line cut in half: ERR_INPUT_INVALID, also for legacy encrypted keys', async () => {
    for (const name of ['ec-p256.key', 'rsa-legacy.key', 'ssh-ed25519']) {
      const text = file(name).replace(/\n([A-Za-z0-9+/]{64,70})\n/, (_m, line: string) => `\n${line.slice(0, 37)}\n`);
      expect(text).not.toBe(file(name));
      await expectFailure(text, ErrorCode.INPUT_INVALID, {
        source: name,
        ...withPassword(PASSWORD),
        includes: [/corrupt/],
      });
    }
  });

  it('truncated OpenSSH public key line: ERR_INPUT_INVALID', async () => {
    const [type, blob] = file('ssh-rsa.pub').split(' ');
    await expectFailure(`${type!} ${blob!.slice(0, 200)} me@host`, ErrorCode.INPUT_INVALID, {
      includes: [/ssh-rsa public key is corrupt/],
    });
  });

  it('a valid block of the wrong kind under a right label: ERR_INPUT_INVALID with a cause', async () => {
    const relabel = (text: string, from: string, to: string): string => text.replaceAll(`-----${from}`, `-----${to}`);
    const pub = file('rsa4096/public.key');
    for (const [text, label] of [
      [
        relabel(relabel(pub, 'BEGIN PUBLIC KEY', 'BEGIN PRIVATE KEY'), 'END PUBLIC KEY', 'END PRIVATE KEY'),
        /PRIVATE KEY block is corrupt/,
      ],
      [
        relabel(relabel(pub, 'BEGIN PUBLIC KEY', 'BEGIN CERTIFICATE'), 'END PUBLIC KEY', 'END CERTIFICATE'),
        /CERTIFICATE block is corrupt/,
      ],
      [
        relabel(relabel(file('ec-p256.key'), 'BEGIN EC', 'BEGIN RSA'), 'END EC', 'END RSA'),
        /RSA PRIVATE KEY block is corrupt/,
      ],
    ] as const) {
      const error = await expectFailure(text, ErrorCode.INPUT_INVALID, { includes: [label] });
      expect(error.cause).toBeDefined();
    }
  });

  it('a block without its END line, or with a different one: ERR_INPUT_INVALID', async () => {
    const key = file('ed25519.key');
    await expectFailure(key.replace(/-----END PRIVATE KEY-----\n?/, ''), ErrorCode.INPUT_INVALID, {
      includes: [/no "-----END PRIVATE KEY-----" line/],
    });
    await expectFailure(key.replace('END PRIVATE KEY', 'END RSA PRIVATE KEY'), ErrorCode.INPUT_INVALID, {
      includes: [/no "-----END PRIVATE KEY-----" line/],
    });
  });

  it('a Proc-Type header where it does not belong: ERR_INPUT_INVALID', async () => {
    const key = file('ed25519.key').replace(
      '-----\n',
      '-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n',
    );
    await expectFailure(key, ErrorCode.INPUT_INVALID, { ...withPassword(PASSWORD), includes: [/Proc-Type/] });
  });
});

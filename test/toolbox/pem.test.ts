import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { copyFileSync, linkSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, expectOk, runTool } from '@keymint/test-kit';
import { decryptWithJose, expectFailure, keymint, listDir, modeOf, readJson, tempDir, type Jwk } from '../helpers.js';
import { PASS_FILE, PASSWORD, createKey, jwkFile, ok, sharedDir, type KeyPairFiles } from './helpers.js';

const dir = sharedDir();
const pw = ['--password-file', PASS_FILE];
const keys: Record<string, KeyPairFiles> = {};

beforeAll(async () => {
  keys.ec = await createKey(dir, 'ec', []);
  keys.rsa = await createKey(dir, 'rsa', ['--kty', 'RSA'], { plain: true });
  keys.ed = await createKey(dir, 'ed', ['--kty', 'OKP'], { plain: true });
  keys.x448 = await createKey(dir, 'x448', ['--kty', 'OKP', '--crv', 'X448', '--use', 'enc'], { plain: true });
  keys.k1 = await createKey(dir, 'k1', ['--crv', 'secp256k1'], { plain: true });
  keys.oct = await createKey(dir, 'oct', ['--kty', 'oct'], { plain: true });
  writeFileSync(join(dir, 'pem-pass.txt'), 'a PEM password\n');
  // A key reference as a backend writes it: the public JWK and where the key lives. `pem` never
  // needs the backend itself, so this file is all the test needs.
  jwkFile(dir, 'hsm.json', {
    type: 'keymint-key-reference',
    version: 1,
    backend: 'pkcs11',
    location: { uri: 'pkcs11:token=t;object=k' },
    jwk: keys.ec?.publicJwk,
  });
});

/** The SPKI PEM openssl derives from a private key PEM. */
const opensslPublic = (pem: string, pass?: string) =>
  runTool('openssl', ['pkey', '-pubout', ...(pass === undefined ? [] : ['-passin', `pass:${pass}`])], { input: pem });
const privateJwk = (name: string) => readJson<Jwk>(join(dir, name));
/** An encrypted key file, decrypted by jose (npm), not by keymint. */
const decrypted = (name: string) => decryptWithJose(join(dir, name), PASSWORD);

describe('keymint pem: public keys (SPKI)', () => {
  it.each(['ec', 'rsa', 'ed', 'x448', 'k1'])(
    '%s: --public of the private key, and the public JWK, give the SPKI openssl derives',
    async (name) => {
      const key = keys[name] as KeyPairFiles;
      const fromPrivate = (await ok(['pem', '--public', ...pw, key.priv], { cwd: dir })).stdout;
      expect(fromPrivate).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
      expect((await ok(['pem', key.pub], { cwd: dir })).stdout).toBe(fromPrivate);
      const fromNode = createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      expect(fromPrivate).toBe(fromNode);
      const pkcs8 = (await ok(['pem', '--no-password', '--insecure', ...pw, key.priv], { cwd: dir })).stdout;
      expect(opensslPublic(pkcs8)).toBe(fromPrivate);
    },
  );

  it('of a key reference with --public; a private PEM of it is refused: the key cannot leave its backend (exit 4)', async () => {
    expect((await ok(['pem', '--public', 'hsm.json'], { cwd: dir })).stdout).toBe(
      (await ok(['pem', (keys.ec as KeyPairFiles).pub], { cwd: dir })).stdout,
    );
    await expectFailure(dir, ['pem', 'hsm.json'], 4, [
      /hsm.json is a reference to a key in the pkcs11 backend: its private key cannot leave the backend/,
      /use --public/,
    ]);
    await expectFailure(dir, ['pem', '--out', 'hsm.pem', 'hsm.json'], 4, [/cannot leave the backend/]);
  });

  it('--out writes a public PEM 0644', async () => {
    const result = await ok(['pem', '--public', '--out', 'ec.pub.pem', ...pw, 'ec.json'], { cwd: dir, umask: '077' });
    expect(result.stdout).toBe('');
    expect(modeOf(join(dir, 'ec.pub.pem'))).toBe(0o644);
    expect(readFileSync(join(dir, 'ec.pub.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });
});

describe('keymint pem: private keys (PKCS#8)', () => {
  it.each(['ec', 'rsa', 'ed', 'x448'])('%s: PKCS#8 that Node reads back into the same private JWK', async (name) => {
    const key = keys[name] as KeyPairFiles;
    const pem = (await ok(['pem', '--no-password', '--insecure', ...pw, key.priv], { cwd: dir })).stdout;
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const back = createPrivateKey(pem).export({ format: 'jwk' }) as Jwk;
    const {
      kid: _kid,
      use: _use,
      alg: _alg,
      ...material
    } = name === 'ec' ? await decrypted('ec.json') : privateJwk(key.priv);
    expect(back).toEqual(material);
  });

  it('--out writes the private PEM 0600 whatever the umask, and says it is not encrypted', async () => {
    const result = await ok(['pem', '--no-password', '--insecure', '--out', 'rsa.pem', 'rsa.json'], {
      cwd: dir,
      umask: '000',
    });
    expect(modeOf(join(dir, 'rsa.pem'))).toBe(0o600);
    expect(result.stderr).toMatch(/PKCS#8 private key has been saved in rsa.pem \(mode 0600\)/);
    expect(result.stderr).toMatch(/NOT encrypted/);
    expect(createPrivateKey(readFileSync(join(dir, 'rsa.pem'))).export({ format: 'jwk' })).toMatchObject({
      n: (keys.rsa as KeyPairFiles).publicJwk.n,
      d: privateJwk('rsa.json').d,
    });
  });

  it('never overwrites without --force (exit 7, file unchanged); --force replaces', async () => {
    writeFileSync(join(dir, 'taken.pem'), 'keep me\n');
    await expectFailure(dir, ['pem', '--no-password', '--insecure', '--out', 'taken.pem', 'rsa.json'], 7, [
      /taken.pem already exists/,
      /--force/,
    ]);
    await ok(['pem', '--no-password', '--insecure', '--out', 'taken.pem', '--force', 'rsa.json'], { cwd: dir });
    expect(readFileSync(join(dir, 'taken.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(modeOf(join(dir, 'taken.pem'))).toBe(0o600);
  });
});

describe('keymint pem: encrypted PKCS#8 (--pem-password-file)', () => {
  it('openssl opens it with the password (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) and not without', async () => {
    await ok(['pem', '--pem-password-file', 'pem-pass.txt', '--out', 'ec.enc.pem', ...pw, 'ec.json'], { cwd: dir });
    const pem = readFileSync(join(dir, 'ec.enc.pem'), 'utf8');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(modeOf(join(dir, 'ec.enc.pem'))).toBe(0o600);
    const dump = runTool('openssl', ['asn1parse'], { input: pem });
    for (const name of ['PBES2', 'PBKDF2', 'hmacWithSHA256', 'aes-256-cbc']) expect(dump).toContain(`:${name}`);
    expect(opensslPublic(pem, 'a PEM password')).toBe((await ok(['pem', 'ec.pub.json'], { cwd: dir })).stdout);
    expect(() => opensslPublic(pem, 'wrong')).toThrow();
    expect(() => opensslPublic(pem, PASSWORD)).toThrow();
  });

  it('Python cryptography opens it', async () => {
    const pem = (await ok(['pem', '--pem-password-file', 'pem-pass.txt', 'ed.json'], { cwd: dir })).stdout;
    const script = `
import sys
from cryptography.hazmat.primitives import serialization
key = serialization.load_pem_private_key(sys.stdin.buffer.read(), password=b"a PEM password")
print(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex())`;
    expect(runTool(PYTHON, ['-c', script], { input: pem }).trim()).toBe(
      Buffer.from((keys.ed as KeyPairFiles).publicJwk.x as string, 'base64url').toString('hex'),
    );
  });

  it('keymint create --from-pem reads it back: the same key, the same kid', async () => {
    await ok(['pem', '--pem-password-file', 'pem-pass.txt', '--out', 'rsa.enc.pem', 'rsa.json'], { cwd: dir });
    await ok(
      [
        'create',
        '--from-pem',
        'rsa.enc.pem',
        '--pem-password-file',
        'pem-pass.txt',
        '--no-password',
        '--insecure',
        'back.pub.json',
        'back.json',
      ],
      { cwd: dir },
    );
    expect(readJson<Jwk>(join(dir, 'back.pub.json')).kid).toBe((keys.rsa as KeyPairFiles).publicJwk.kid);
    expect(readJson<Jwk>(join(dir, 'back.json')).d).toBe(privateJwk('rsa.json').d);
  });
});

describe('keymint pem: refusals', () => {
  it('an oct key has no PEM form: exit 9', async () => {
    // oct.json is encrypted: pem cannot know it holds an oct key before it is asked to decrypt it.
    await expectFailure(dir, ['pem', '--no-password', '--insecure', 'oct.json'], 9, [/oct key has no PEM form/]);
  });

  it('--pem-password-file with --public, or with a public key; --force without --out: exit 2 or 3', async () => {
    await expectFailure(dir, ['pem', '--public', '--pem-password-file', 'pem-pass.txt', 'rsa.json'], 2, [
      /cannot be used with --public/,
    ]);
    await expectFailure(dir, ['pem', '--pem-password-file', 'pem-pass.txt', 'rsa.pub.json'], 3, [
      /encrypts private keys only/,
    ]);
    await expectFailure(dir, ['pem', '--force', 'rsa.json'], 2, [/--force replaces the --out file/]);
    // A private key in the clear only when asked for, as with create (issue 12).
    await expectFailure(dir, ['pem', 'rsa.json'], 2, [
      /the PEM would hold the private key of rsa\.json unencrypted; give --pem-password-file FILE to encrypt it, --public for the public key, or --no-password --insecure/,
    ]);
    await expectFailure(dir, ['pem', '--out', 'clear.pem', 'rsa.json'], 2, [/unencrypted/]);
    await expectFailure(dir, ['pem', '--no-password', 'rsa.json'], 2, [/--no-password requires --insecure/]);
    await expectFailure(
      dir,
      ['pem', '--no-password', '--insecure', '--pem-password-file', 'pem-pass.txt', 'rsa.json'],
      2,
      [/cannot be used together/],
    );
  });

  it('a set of several keys: exit 9; a wrong password: exit 6; a missing --pem-password-file: exit 8', async () => {
    jwkFile(dir, 'two.json', { keys: [(keys.ec as KeyPairFiles).publicJwk, (keys.rsa as KeyPairFiles).publicJwk] });
    await expectFailure(dir, ['pem', 'two.json'], 9, [/JWK Set of 2 keys: pem converts one key/]);
    writeFileSync(join(dir, 'wrong.txt'), 'wrong\n');
    await expectFailure(
      dir,
      ['pem', '--no-password', '--insecure', '--password-file', 'wrong.txt', '--out', 'x.pem', 'ec.json'],
      6,
      [/wrong password/],
    );
    await expectFailure(dir, ['pem', '--pem-password-file', 'nope.txt', 'rsa.json'], 8, [
      /--pem-password-file nope.txt: no such file/,
    ]);
  });

  it('reads the key from standard input', async () => {
    const result = await keymint(['pem', '-'], { cwd: dir, input: readFileSync(join(dir, 'rsa.pub.json'), 'utf8') });
    expectOk(result);
    expect(result.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(listDir(dir)).not.toContain('-');
  });
});

describe('keymint pem: --out is never what pem reads', () => {
  it.each([
    [
      'the key file',
      ['--out', 'rsa.json', 'rsa.json'],
      /the key file rsa\.json and the output rsa\.json are the same file/,
    ],
    [
      'the key file, through a link to the directory',
      ['--out', 'sub/rsa.json', 'rsa.json'],
      /the key file rsa\.json and the output sub\/rsa\.json/,
    ],
    [
      'the key file, as a hard link',
      ['--out', 'hard.json', 'rsa.json'],
      /the key file rsa\.json and the output hard\.json/,
    ],
    ['the encrypted key file', ['--out', 'ec.json', ...pw, 'ec.json'], /the key file ec\.json and the output ec\.json/],
    [
      'its --password-file',
      ['--out', 'pass.txt', ...pw, 'ec.json'],
      /--password-file pass\.txt and the output pass\.txt/,
    ],
    [
      'the --pem-password-file',
      ['--out', 'pem-pass.txt', '--pem-password-file', 'pem-pass.txt', 'rsa.json'],
      /--pem-password-file pem-pass\.txt and the output pem-pass\.txt/,
    ],
  ])('--out as %s, with --force: exit 2, nothing written', async (_name, args, message) => {
    const work = tempDir();
    for (const name of ['rsa.json', 'ec.json', PASS_FILE, 'pem-pass.txt'])
      copyFileSync(join(dir, name), join(work, name));
    symlinkSync('.', join(work, 'sub'));
    linkSync(join(work, 'rsa.json'), join(work, 'hard.json'));
    await expectFailure(work, ['pem', '--force', ...args], 2, [message, /keymint would overwrite what it reads/]);
  });
});

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flattenedDecrypt, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, FAST, expectFailure, keymint, passwordFile, readJson, type Jwk } from '../helpers.js';
import { ok, sharedDir } from '../toolbox/helpers.js';

/**
 * keymint encrypt and keymint decrypt as a user runs them: what they print, the key forms they
 * read, and every failure path with the exit code of the README's table, one line on stderr and
 * the directory untouched.
 */

const dir = sharedDir();
const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** Runs the built CLI with stdout as bytes (a decrypted payload is printed as it is). */
function keymintBytes(
  args: readonly string[],
  input?: Buffer,
): { code: number | null; stdout: Buffer; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    input,
    env: { ...process.env, KEYMINT_DEBUG: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}

function header(jwe: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwe.split('.')[0] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function withHeader(jwe: string, change: (h: Record<string, unknown>) => Record<string, unknown>): string {
  return [b64(JSON.stringify(change(header(jwe)))), ...jwe.split('.').slice(1)].join('.');
}

let jwe: string;
beforeAll(async () => {
  await ok(
    [
      'create',
      '--kty',
      'RSA',
      '--use',
      'enc',
      '--kid',
      'rsa-enc',
      '--no-password',
      '--insecure',
      'rsa.pub.json',
      'rsa.json',
    ],
    { cwd: dir },
  );
  await ok(
    [
      'create',
      '--kty',
      'EC',
      '--crv',
      'P-384',
      '--use',
      'enc',
      '--kid',
      'ec-enc',
      '--no-password',
      '--insecure',
      'ec.pub.json',
      'ec.json',
    ],
    { cwd: dir },
  );
  await ok(['create', '--kty', 'EC', '--kid', 'ec-sig', '--no-password', '--insecure', 'sig.pub.json', 'sig.json'], {
    cwd: dir,
  });
  await ok(
    [
      'create',
      '--kty',
      'RSA',
      '--use',
      'enc',
      '--alg',
      'RSA1_5',
      '--subtle',
      '--kid',
      'rsa15',
      '--no-password',
      '--insecure',
      'rsa15.pub.json',
      'rsa15.json',
    ],
    { cwd: dir },
  );
  passwordFile(dir);
  await ok(
    [
      'create',
      '--kty',
      'OKP',
      '--crv',
      'X25519',
      '--use',
      'enc',
      '--kid',
      'x-enc',
      '--password-file',
      'pass.txt',
      ...FAST,
      'x.pub.json',
      'x.json',
    ],
    { cwd: dir },
  );
  await ok(['keyset', 'add', '--private', 'private-set.json', 'rsa.json'], { cwd: dir });
  await ok(['keyset', 'add', '--private', 'private-set.json', 'ec.json'], { cwd: dir });
  await ok(['keyset', 'add', 'public-set.json', 'rsa.pub.json'], { cwd: dir });
  await ok(['keyset', 'add', 'public-set.json', 'ec.pub.json'], { cwd: dir });
  await ok(['keyset', 'add', 'public-set.json', 'sig.pub.json'], { cwd: dir });
  writeFileSync(join(dir, 'hello.txt'), 'hello, JWE');
  jwe = (await ok(['encrypt', '--key', 'ec.pub.json', 'hello.txt'], { cwd: dir })).stdout.trim();
  const rsa15 = (await ok(['encrypt', '--key', 'rsa15.pub.json', '--subtle', 'hello.txt'], { cwd: dir })).stdout.trim();
  writeFileSync(join(dir, 'rsa15.jwe'), rsa15);
}, 120_000);

describe('keymint encrypt', () => {
  it("prints a compact JWE: the key's alg and kid, A256GCM; and says so on stderr", async () => {
    const result = await ok(['encrypt', '--key', 'rsa.pub.json', 'hello.txt'], { cwd: dir });
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(header(result.stdout.trim())).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'rsa-enc' });
    expect(result.stderr).toBe('Encrypted to key "rsa-enc": RSA-OAEP-256, A256GCM.\n');
  });

  it('--json prints the flattened JSON serialization, which jose reads', async () => {
    const result = await ok(['encrypt', '--key', 'ec.pub.json', '--enc', 'A128CBC-HS256', '--json', 'hello.txt'], {
      cwd: dir,
    });
    const flattened = JSON.parse(result.stdout) as Parameters<typeof flattenedDecrypt>[0];
    expect(Object.keys(flattened)).toEqual(['protected', 'iv', 'ciphertext', 'tag']);
    const key = await importJWK(readJson<Jwk>(join(dir, 'ec.json')) as Parameters<typeof importJWK>[0], 'ECDH-ES');
    expect(Buffer.from((await flattenedDecrypt(flattened, key)).plaintext).toString()).toBe('hello, JWE');
  });

  it('chooses the key of a JWK Set by --kid, or the one key in it that can encrypt; takes the public key of a private or encrypted key file', async () => {
    expect(
      header(
        (
          await ok(['encrypt', '--key', 'public-set.json', '--kid', 'rsa-enc', 'hello.txt'], { cwd: dir })
        ).stdout.trim(),
      ).kid,
    ).toBe('rsa-enc');
    await ok(['keyset', 'add', 'one-enc.json', 'sig.pub.json'], { cwd: dir });
    await ok(['keyset', 'add', 'one-enc.json', 'ec.pub.json'], { cwd: dir });
    expect(header((await ok(['encrypt', '--key', 'one-enc.json', 'hello.txt'], { cwd: dir })).stdout.trim()).kid).toBe(
      'ec-enc',
    );
    expect(
      header(
        (
          await ok(['encrypt', '--key', 'x.json', '--password-file', 'pass.txt', 'hello.txt'], { cwd: dir })
        ).stdout.trim(),
      ),
    ).toMatchObject({ alg: 'ECDH-ES', kid: 'x-enc' });
  });

  it('reads the payload from standard input, bytes as they are', async () => {
    const bytes = randomBytes(300);
    const encrypted = keymintBytes(['encrypt', '--key', 'rsa.pub.json', '-'], bytes);
    expect(encrypted.code, encrypted.stderr).toBe(0);
    writeFileSync(join(dir, 'bytes.jwe'), encrypted.stdout);
    const decrypted = keymintBytes(['decrypt', '--key', 'rsa.json', 'bytes.jwe']);
    expect(decrypted.code, decrypted.stderr).toBe(0);
    expect(decrypted.stdout.equals(bytes)).toBe(true);
  });

  it.each([
    ['no --key', ['encrypt', 'hello.txt'], 2, /encrypt needs --key FILE/],
    ['empty standard input', ['encrypt', '--key', 'rsa.pub.json'], 2, /no payload: standard input is empty/],
    ['a payload file that is not there', ['encrypt', '--key', 'rsa.pub.json', 'gone.txt'], 8, /gone\.txt/],
    [
      'an --alg that does not fit the key',
      ['encrypt', '--key', 'rsa.pub.json', '--alg', 'ECDH-ES', 'hello.txt'],
      4,
      /--alg ECDH-ES does not fit the key, whose "alg" is RSA-OAEP-256/,
    ],
    ['a signing key', ['encrypt', '--key', 'sig.pub.json', 'hello.txt'], 4, /is for signing \("use": "sig"\)/],
    [
      'RSA1_5 without --subtle',
      ['encrypt', '--key', 'rsa15.pub.json', 'hello.txt'],
      4,
      /RSA1_5 is refused: it is open to padding-oracle attacks \(RFC 8725 §3\.2\); prefer RSA-OAEP-256; --subtle allows RSA1_5/,
    ],
    [
      'an --alg another key is for',
      ['encrypt', '--key', 'public-set.json', '--kid', 'rsa-enc', '--alg', 'RSA1_5', 'hello.txt'],
      4,
      /--alg RSA1_5 does not fit the key, whose "alg" is RSA-OAEP-256/,
    ],
    [
      'an --enc keymint does not know',
      ['encrypt', '--key', 'rsa.pub.json', '--enc', 'A128CTR', 'hello.txt'],
      3,
      /--enc "A128CTR" is not a content encryption algorithm: use A128GCM/,
    ],
    [
      'a --kid the set does not have',
      ['encrypt', '--key', 'public-set.json', '--kid', 'gone', 'hello.txt'],
      16,
      /public-set\.json has no key with --kid "gone"/,
    ],
    [
      'a set with two keys to encrypt to and no --kid',
      ['encrypt', '--key', 'public-set.json', 'hello.txt'],
      3,
      /public-set\.json holds 2 keys to encrypt to: choose one with --kid/,
    ],
    [
      'a header keymint sets',
      ['encrypt', '--key', 'rsa.pub.json', '--header', 'zip=DEF', 'hello.txt'],
      3,
      /the "zip" header is set by keymint or the algorithm/,
    ],
    [
      'PBES2 as --alg',
      ['encrypt', '--key', 'rsa.pub.json', '--alg', 'PBES2-HS256+A128KW', 'hello.txt'],
      4,
      /encrypts with a password, not with a key/,
    ],
  ])('%s: exit %i', async (_name, args, code, pattern) => {
    await expectFailure(dir, args as string[], code as number, [pattern as RegExp]);
  });
});

describe('keymint decrypt', () => {
  it('prints the plaintext as it is, and which key decrypted it on stderr; --json gives the header too', async () => {
    const result = await ok(['decrypt', '--key', 'ec.json', jwe], { cwd: dir });
    expect(result.stdout).toBe('hello, JWE');
    expect(result.stderr).toBe('Decrypted with key "ec-enc": ECDH-ES, A256GCM.\n');
    const json = JSON.parse((await ok(['decrypt', '--key', 'ec.json', '--json', jwe], { cwd: dir })).stdout) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({
      plaintext: 'hello, JWE',
      alg: 'ECDH-ES',
      enc: 'A256GCM',
      kid: 'ec-enc',
      header: { alg: 'ECDH-ES', kid: 'ec-enc' },
    });
  });

  it('reads the JWE from a file (compact or flattened JSON) or standard input; chooses the key of a private JWK Set by kid; opens an encrypted key file', async () => {
    writeFileSync(join(dir, 'm.jwe'), `${jwe}\n`);
    expect((await ok(['decrypt', '--key', 'private-set.json', 'm.jwe'], { cwd: dir })).stdout).toBe('hello, JWE');
    expect((await ok(['decrypt', '--key', 'ec.json', '-'], { cwd: dir, input: jwe })).stdout).toBe('hello, JWE');
    const flattened = (await ok(['encrypt', '--key', 'x.pub.json', '--json', 'hello.txt'], { cwd: dir })).stdout;
    writeFileSync(join(dir, 'm.jwe.json'), flattened);
    expect(
      (await ok(['decrypt', '--key', 'x.json', '--password-file', 'pass.txt', 'm.jwe.json'], { cwd: dir })).stdout,
    ).toBe('hello, JWE');
  });

  it('prints binary plaintext as base64url with --json', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0, 1]);
    writeFileSync(join(dir, 'bin.dat'), bytes);
    const encrypted = (await ok(['encrypt', '--key', 'rsa.pub.json', 'bin.dat'], { cwd: dir })).stdout.trim();
    const json = JSON.parse(
      (await ok(['decrypt', '--key', 'rsa.json', '--json', encrypted], { cwd: dir })).stdout,
    ) as Record<string, unknown>;
    expect(json.plaintextBase64url).toBe(b64(bytes));
  });

  it('changed in any part, a JWE does not decrypt: exit 6, the same line whichever part changed', async () => {
    const rsaJwe = (await ok(['encrypt', '--key', 'rsa.pub.json', 'hello.txt'], { cwd: dir })).stdout.trim();
    const lines = new Set<string>();
    for (const part of [1, 3, 4]) {
      const parts = rsaJwe.split('.');
      const bytes = Buffer.from(parts[part] as string, 'base64url');
      bytes[0] = (bytes[0] as number) ^ 1;
      parts[part] = b64(bytes);
      writeFileSync(join(dir, `changed-${part}.jwe`), parts.join('.'));
      const result = await expectFailure(dir, ['decrypt', '--key', 'rsa.json', `changed-${part}.jwe`], 6, [
        /the JWE does not decrypt with key "rsa-enc": it was encrypted to another key, or changed/,
      ]);
      lines.add(result.stderr);
    }
    expect(lines.size).toBe(1);
  });

  it.each([
    ['no --key', () => ['decrypt', jwe], 2, /decrypt needs --key FILE/],
    [
      'a public key',
      () => ['decrypt', '--key', 'ec.pub.json', jwe],
      9,
      /holds a public key: a private key is needed here/,
    ],
    [
      'a JWK Set of public keys',
      () => ['decrypt', '--key', 'public-set.json', jwe],
      9,
      /public-set\.json is a JWK Set of public keys: decrypting needs the private key/,
    ],
    [
      'a key with another kid',
      () => ['decrypt', '--key', 'rsa.json', jwe],
      16,
      /the JWE is encrypted to key "ec-enc", but rsa\.json is key "rsa-enc"/,
    ],
    [
      'a set without the kid',
      () => ['decrypt', '--key', 'private-set.json', withHeader(jwe, (h) => ({ ...h, kid: 'gone' }))],
      16,
      /private-set\.json has no key with kid "gone"/,
    ],
    [
      'a key for signing',
      () => ['decrypt', '--key', 'sig.json', withHeader(jwe, (h) => ({ ...h, kid: undefined }))],
      4,
      /is for signing/,
    ],
    ['a JWE file that is not there', () => ['decrypt', '--key', 'ec.json', 'gone.jwe'], 8, /gone\.jwe/],
    ['a JWS, not a JWE', () => ['decrypt', '--key', 'ec.json', 'a.b.c'], 8, /a\.b\.c/],
    [
      'four parts',
      () => ['decrypt', '--key', 'ec.json', '-'],
      9,
      /not a compact JWE: it has 4 dot-separated parts, not five/,
    ],
    [
      'a compressed JWE',
      () => ['decrypt', '--key', 'ec.json', withHeader(jwe, (h) => ({ ...h, zip: 'DEF' }))],
      9,
      /is compressed \("zip"\)/,
    ],
    [
      'crit',
      () => ['decrypt', '--key', 'ec.json', withHeader(jwe, (h) => ({ ...h, crit: ['b64'], b64: false }))],
      9,
      /"crit" header extensions/,
    ],
    [
      'a password JWE (PBES2)',
      () => [
        'decrypt',
        '--key',
        'ec.json',
        withHeader(jwe, (h) => ({ ...h, alg: 'PBES2-HS256+A128KW', p2c: 2 ** 31 })),
      ],
      4,
      /encrypted under a password/,
    ],
    [
      'RSA1_5 without --subtle',
      () => ['decrypt', '--key', 'rsa15.json', 'rsa15.jwe'],
      4,
      /RSA1_5 is refused: it is open to padding-oracle attacks/,
    ],
    [
      'an alg the key is not for',
      () => [
        'decrypt',
        '--key',
        'rsa.json',
        withHeader(readFileSync(join(dir, 'rsa15.jwe'), 'utf8'), (h) => ({ ...h, kid: undefined })),
      ],
      4,
      /--alg RSA1_5 does not fit the key, whose "alg" is RSA-OAEP-256/,
    ],
    [
      'an epk off the curve',
      () => [
        'decrypt',
        '--key',
        'ec.json',
        withHeader(jwe, (h) => ({ ...h, epk: { ...(h.epk as object), y: b64(randomBytes(48)) } })),
      ],
      9,
      /the JWE "epk" holds an invalid EC key: OpenSSL does not accept it \(crv "P-384"\): the point is not on the curve/,
    ],
    [
      'an epk on another curve',
      () => [
        'decrypt',
        '--key',
        'ec.json',
        withHeader(jwe, (h) => ({ ...h, epk: readJson(join(dir, 'sig.pub.json')) })),
      ],
      9,
      /"epk" is "EC" "P-256", and the key is EC P-384: an ephemeral key must be on the key's curve/,
    ],
    [
      'a short tag',
      () => ['decrypt', '--key', 'ec.json', [...jwe.split('.').slice(0, 4), b64(randomBytes(8))].join('.')],
      9,
      /authentication tag is 8 bytes long; A256GCM's is 16/,
    ],
  ])('%s: exit %i', async (name, args, code, pattern) => {
    const input = name === 'four parts' ? jwe.split('.').slice(0, 4).join('.') : undefined;
    await expectFailure(dir, args(), code as number, [pattern as RegExp], input === undefined ? {} : { input });
  });

  it('never prints the key or the plaintext in an error', async () => {
    const d = (JSON.parse(readFileSync(join(dir, 'ec.json'), 'utf8')) as Jwk).d as string;
    for (const changed of [
      withHeader(jwe, (h) => ({ ...h, enc: 'A128GCM' })),
      withHeader(jwe, (h) => ({ ...h, epk: { ...(h.epk as object), d } })),
    ]) {
      const result = await keymint(['decrypt', '--key', 'ec.json', changed], { cwd: dir });
      expect([6, 9]).toContain(result.code);
      expect(result.stderr).not.toContain(d);
      expect(result.stderr).not.toContain('hello');
    }
  });
});

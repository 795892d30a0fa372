import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOk, withP2c } from '@keymint/test-kit';
import { expectFailure, keymint, keymintInPty, publicPart, type Jwk } from '../helpers.js';
import {
  PASSWORD,
  corruptJwe,
  decodePart,
  jwkFile,
  nodeJwk,
  ok,
  opensslVerify,
  sharedDir,
  stepJwe,
} from './helpers.js';

/**
 * The private key forms every command reads: encrypted JWKs as step writes them (made here by
 * Python's cryptography, an implementation other than keymint's), keymint's own (create's tests
 * cover those), plain JWKs, and key references.
 */
const dir = sharedDir();
const EC = nodeJwk('EC P-256', { kid: 'step-ec', use: 'sig', alg: 'ES256' });
const RSA = nodeJwk('RSA', { kid: 'step-rsa', use: 'sig', alg: 'RS256' });
const EC_PUB = publicPart(EC);
const RSA_PUB = publicPart(RSA);
const ENDPOINT = 'https://as.example.com/token';

beforeAll(() => {
  writeFileSync(join(dir, 'pass.txt'), `${PASSWORD}\n`);
  writeFileSync(join(dir, 'wrong.txt'), 'not the password\n');
  writeFileSync(join(dir, 'payload.txt'), 'signed by a step key');
  // step today: flattened JSON, PBES2-HS256+A128KW, A256GCM, p2c 600000, cty jwk+json.
  writeFileSync(join(dir, 'step-new.json'), stepJwe(EC, 'flattened', 'A256GCM', 600_000));
  // older step: compact, A128GCM, p2c 100000, no cty.
  writeFileSync(join(dir, 'step-old.jwe'), stepJwe(RSA, 'compact', 'A128GCM', 100_000, { cty: false }));
  writeFileSync(join(dir, 'evil.json'), withP2c(stepJwe(EC, 'flattened', 'A256GCM', 1000), 2 ** 31));
  writeFileSync(join(dir, 'evil.jwe'), withP2c(stepJwe(EC, 'compact', 'A128GCM', 1000), 1_000_001));
  writeFileSync(join(dir, 'altered.json'), corruptJwe(stepJwe(EC, 'flattened', 'A256GCM', 1000)));
  jwkFile(dir, 'ec.pub.json', EC_PUB);
  jwkFile(dir, 'rsa.pub.json', RSA_PUB);
});

const pw = ['--password-file', 'pass.txt'];

describe('encrypted JWKs made as step makes them open in every command', () => {
  it('the header of the fixtures is what step writes', () => {
    const fresh = JSON.parse(readFileSync(join(dir, 'step-new.json'), 'utf8')) as { protected: string };
    expect(decodePart(fresh.protected)).toMatchObject({
      alg: 'PBES2-HS256+A128KW',
      enc: 'A256GCM',
      p2c: 600_000,
      cty: 'jwk+json',
    });
    const old = readFileSync(join(dir, 'step-old.jwe'), 'utf8').trim();
    expect(old.split('.')).toHaveLength(5);
    const header = decodePart(old.split('.')[0]);
    expect(header).toMatchObject({ alg: 'PBES2-HS256+A128KW', enc: 'A128GCM', p2c: 100_000 });
    expect(header).not.toHaveProperty('cty');
  });

  it.each([
    ['step-new.json', EC_PUB, 'ec.pub.json'],
    ['step-old.jwe', RSA_PUB, 'rsa.pub.json'],
  ] as const)('%s: public and thumbprint', async (file, pub, pubFile) => {
    expect(JSON.parse((await ok(['public', ...pw, file], { cwd: dir })).stdout)).toEqual(pub);
    const thumbprint = (await ok(['thumbprint', ...pw, file], { cwd: dir })).stdout;
    expect(thumbprint).toMatch(/^[\w-]{43}\n$/);
    expect(thumbprint).toBe((await ok(['thumbprint', pubFile], { cwd: dir })).stdout);
  });

  it.each([
    ['step-new.json', EC_PUB, 'ES256'],
    ['step-old.jwe', RSA_PUB, 'RS256'],
  ] as const)('%s: sign, checked by jose and openssl', async (file, pub, alg) => {
    const jws = (await ok(['sign', '--key', file, ...pw, 'payload.txt'], { cwd: dir })).stdout.trim();
    expect(decodePart(jws.split('.')[0])).toEqual({ alg, kid: pub.kid });
    await compactVerify(jws, await importJWK(pub as never, alg));
    expect(opensslVerify(dir, jws, pub)).toBe(true);
  });

  it.each([
    ['step-new.json', EC_PUB, 'ES256'],
    ['step-old.jwe', RSA_PUB, 'RS256'],
  ] as const)(
    '%s: jwt client-assertion, verified by jose and by keymint verify with the same file',
    async (file, pub, alg) => {
      const token = (
        await ok(['jwt', 'client-assertion', '--key', file, ...pw, '--client-id', 'c1', '--token-endpoint', ENDPOINT], {
          cwd: dir,
        })
      ).stdout.trim();
      await jwtVerify(token, await importJWK(pub as never, alg), { issuer: 'c1', subject: 'c1', audience: ENDPOINT });
      expect(JSON.parse((await ok(['verify', '--key', file, ...pw, token], { cwd: dir })).stdout).iss).toBe('c1');
    },
  );

  it('pem and keyset add', async () => {
    const pem = (await ok(['pem', '--no-password', '--insecure', ...pw, 'step-old.jwe'], { cwd: dir })).stdout;
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    await ok(['keyset', 'add', ...pw, 'step-set.json', 'step-new.json'], { cwd: dir });
    await ok(['keyset', 'add', ...pw, 'step-set.json', 'step-old.jwe'], { cwd: dir });
    expect(JSON.parse(readFileSync(join(dir, 'step-set.json'), 'utf8'))).toEqual({ keys: [EC_PUB, RSA_PUB] });
  });
});

describe('a JWE with p2c over 1,000,000 is refused before any key derivation', () => {
  // PBKDF2 with 2^31 rounds takes hours: a command that finishes has not derived a key.
  it.each([
    ['public', 'evil.json'],
    ['thumbprint', 'evil.json'],
    ['pem', '--no-password', '--insecure', 'evil.json'],
    ['sign', '--key', 'evil.json', 'payload.txt'],
    ['jwt', '--key', 'evil.json', '--iss', 'i', '--sub', 's', '--aud', 'a'],
    ['jwt', 'client-assertion', '--key', 'evil.json', '--client-id', 'c', '--token-endpoint', ENDPOINT],
    ['verify', '--key', 'evil.json', 'a.b.c'],
    ['keyset', 'add', 'set.json', 'evil.json'],
  ])('%s ... (p2c 2^31): exit 9, with or without a password', async (...args) => {
    await expectFailure(dir, [...args, ...pw], 9, [/"p2c" 2147483648 is above 1000000: refused/]);
    await expectFailure(dir, args, 9, [/"p2c" 2147483648 is above 1000000/]);
  });

  it('p2c 1000001 in a compact JWE: exit 9 too', async () => {
    await expectFailure(dir, ['sign', '--key', 'evil.jwe', ...pw, 'payload.txt'], 9, [
      /"p2c" 1000001 is above 1000000/,
    ]);
  });
});

describe('bad encrypted inputs and passwords', () => {
  it.each([
    ['sign', '--key', 'altered.json', 'payload.txt'],
    ['public', 'altered.json'],
    ['jwt', 'client-assertion', '--key', 'altered.json', '--client-id', 'c', '--token-endpoint', ENDPOINT],
    ['pem', '--no-password', '--insecure', '--out', 'out.pem', 'altered.json'],
  ])('a corrupt JWE (altered ciphertext) in %s: exit 6, nothing written', async (...args) => {
    await expectFailure(dir, [...args, ...pw], 6, [/could not be decrypted/]);
  });

  it.each([
    ['sign', '--key', 'step-new.json', 'payload.txt'],
    ['thumbprint', 'step-old.jwe'],
    ['keyset', 'add', 'set.json', 'step-new.json'],
  ])('a wrong password in %s: exit 6, nothing written', async (...args) => {
    await expectFailure(dir, [...args, '--password-file', 'wrong.txt'], 6, [/wrong password/]);
  });

  it('KEYMINT_PASSWORD_FILE is read when --password-file is not given; --password-file wins over it', async () => {
    expectOk(
      await keymint(['public', 'step-new.json'], { cwd: dir, env: { KEYMINT_PASSWORD_FILE: join(dir, 'pass.txt') } }),
    );
    expectOk(
      await keymint(['public', ...pw, 'step-new.json'], {
        cwd: dir,
        env: { KEYMINT_PASSWORD_FILE: join(dir, 'wrong.txt') },
      }),
    );
    const wrong = await keymint(['public', 'step-new.json'], {
      cwd: dir,
      env: { KEYMINT_PASSWORD_FILE: join(dir, 'wrong.txt') },
    });
    expect(wrong.code).toBe(6);
    const missing = await keymint(['public', 'step-new.json'], {
      cwd: dir,
      env: { KEYMINT_PASSWORD_FILE: join(dir, 'nope.txt') },
    });
    expect(missing.code).toBe(8);
    expect(missing.stderr).toMatch(/^keymint: KEYMINT_PASSWORD_FILE .*nope.txt: no such file/);
  });

  it('asks for the password on the terminal when there is no other source, with echo off', async () => {
    const result = await keymintInPty(['sign', '--key', 'step-old.jwe', 'payload.txt'], [PASSWORD], { cwd: dir });
    expect(result.status, result.output).toBe(0);
    expect(result.answered).toBe(1);
    expect(result.echoOff).toEqual([true]);
    expect(result.output).toMatch(/Please enter the password to decrypt step-old.jwe: /);
    expect(result.output).not.toContain(PASSWORD);
    const jws = /([\w-]+\.[\w-]+\.[\w-]+)/.exec(result.output)?.[1] as string;
    await compactVerify(jws, await importJWK(RSA_PUB as never, 'RS256'));
  });

  it('never asks with --json, even on a terminal: exit 2', async () => {
    const result = await keymintInPty(['sign', '--json', '--key', 'step-old.jwe', 'payload.txt'], [], { cwd: dir });
    expect(result.answered).toBe(0);
    expect(result.status, result.output).toBe(2);
    expect(result.output).toMatch(/ERR_PASSWORD_REQUIRED/);
  });
});

describe('key references: the forms that need no backend', () => {
  // A reference holds the public JWK and where the private key lives; public, thumbprint,
  // pem --public, keyset add and verify read the JWK and never open the backend.
  beforeAll(() => {
    jwkFile(dir, 'ref.json', {
      type: 'keymint-key-reference',
      version: 1,
      backend: 'pkcs11',
      location: { uri: 'pkcs11:token=t;object=k' },
      jwk: EC_PUB,
    });
    jwkFile(dir, 'ref-unknown.json', {
      type: 'keymint-key-reference',
      version: 1,
      backend: 'no-such-backend',
      location: {},
      jwk: EC_PUB,
    });
  });

  it('public, thumbprint, pem --public and keyset add use the public JWK it holds', async () => {
    expect(JSON.parse((await ok(['public', 'ref.json'], { cwd: dir })).stdout)).toEqual(EC_PUB);
    expect((await ok(['thumbprint', 'ref.json'], { cwd: dir })).stdout).toBe(
      (await ok(['thumbprint', 'ec.pub.json'], { cwd: dir })).stdout,
    );
    expect((await ok(['pem', '--public', 'ref.json'], { cwd: dir })).stdout).toBe(
      (await ok(['pem', 'ec.pub.json'], { cwd: dir })).stdout,
    );
    await ok(['keyset', 'add', 'ref-set.json', 'ref.json'], { cwd: dir });
    expect(JSON.parse(readFileSync(join(dir, 'ref-set.json'), 'utf8'))).toEqual({ keys: [EC_PUB] });
    await expectFailure(dir, ['keyset', 'add', '--private', 'ref-set2.json', 'ref.json'], 4, [
      /its private key cannot leave the backend/,
    ]);
  });

  it('verify checks a token against it', async () => {
    const token = (await ok(['sign', '--key', 'step-new.json', ...pw, 'payload.txt'], { cwd: dir })).stdout.trim();
    expect((await ok(['verify', '--key', 'ref.json', token], { cwd: dir })).stdout).toBe('signed by a step key\n');
  });

  it('signing with a reference to a backend this keymint lacks: exit 5, one line', async () => {
    await expectFailure(dir, ['sign', '--key', 'ref-unknown.json', 'payload.txt'], 5, [
      /kept by the "no-such-backend" backend, which this keymint does not have/,
    ]);
  });
});

it('a plain private JWK made by Node signs what jose verifies (no password involved)', async () => {
  const ed = nodeJwk('Ed25519', { kid: 'plain' });
  jwkFile(dir, 'plain.json', ed);
  const jws = (await ok(['sign', '--key', 'plain.json', 'payload.txt'], { cwd: dir })).stdout.trim();
  await compactVerify(jws, await importJWK(publicPart(ed) as never, 'EdDSA'));
  expect((decodePart(jws.split('.')[0]) as Jwk).kid).toBe('plain');
});

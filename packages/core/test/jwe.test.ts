import { describe, expect, it } from 'vitest';
import { decryptWithPython, pythonPbes2Jwe, rejection, newKeyPair } from '@keymint/test-kit';
import { decryptJwk, encryptJwk, inspectJwe, looksLikeJwe } from '../src/jwe.js';
import { DEFAULT_PBES2_COUNT, checkPbes2Count } from '../src/password.js';
import type { Jwk } from '../src/jwk.js';

const PASSWORD = 'correct horse battery staple';
const JWK = newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk;
const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWE made by Python's cryptography, not by keymint or jose. */
function python(
  form: string,
  alg: string,
  enc: string,
  p2c: number,
  password = PASSWORD,
  extra: string[] = [],
): string {
  return pythonPbes2Jwe(JWK, { form, alg, enc, p2c, password, cty: !extra.includes('nocty') });
}

describe('writing', () => {
  it('writes the flattened JSON serialization with the header REFERENCE §2 prescribes', async () => {
    const text = await encryptJwk(JWK, PASSWORD, { pbes2Count: 1000 });
    expect(text).toMatch(/^\{\n {2}"protected"/);
    const jwe = JSON.parse(text);
    expect(Object.keys(jwe).sort()).toEqual(['ciphertext', 'encrypted_key', 'iv', 'protected', 'tag']);
    const header = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json', p2c: 1000 });
    expect(Buffer.from(header.p2s, 'base64url')).toHaveLength(16);
    expect(text).not.toContain(JWK.d);
  });

  it('uses 600000 iterations by default and a new salt each time', async () => {
    expect(DEFAULT_PBES2_COUNT).toBe(600_000);
    const a = inspectJwe(await encryptJwk(JWK, PASSWORD));
    const b = inspectJwe(await encryptJwk(JWK, PASSWORD, { pbes2Count: 1000 }));
    expect(a.p2c).toBe(600_000);
    expect(a.p2s).not.toBe(b.p2s);
  });

  it('round-trips', async () => {
    expect(await decryptJwk(await encryptJwk(JWK, PASSWORD, { pbes2Count: 1000 }), PASSWORD)).toEqual(JWK);
  });

  it('refuses an empty password and a count out of range', async () => {
    expect((await rejection(encryptJwk(JWK, ''))).code).toBe('ERR_PARAM_INVALID');
    expect(() => checkPbes2Count(999)).toThrow(/1000 to 1000000/);
    expect(() => checkPbes2Count(1_000_001)).toThrow(/out of range/);
    expect(() => checkPbes2Count('12abc')).toThrow(/out of range/);
    expect(checkPbes2Count('10000')).toBe(10_000);
  });

  it('writes files that Python cryptography decrypts', async () => {
    const text = await encryptJwk(JWK, PASSWORD, { pbes2Count: 2000 });
    expect(decryptWithPython(text, PASSWORD)).toEqual(JWK);
  });
});

describe('reading files made by another implementation (Python cryptography)', () => {
  it.each([
    [
      'step today: flattened, PBES2-HS256+A128KW, A256GCM, p2c 600000, cty',
      'flattened',
      'PBES2-HS256+A128KW',
      'A256GCM',
      600_000,
      [],
    ],
    [
      'older step: compact, A128GCM, p2c 100000, no cty',
      'compact',
      'PBES2-HS256+A128KW',
      'A128GCM',
      100_000,
      ['nocty'],
    ],
    [
      'older step: flattened, A128GCM, p2c 100000, no cty',
      'flattened',
      'PBES2-HS256+A128KW',
      'A128GCM',
      100_000,
      ['nocty'],
    ],
    ['general JSON serialization', 'general', 'PBES2-HS256+A128KW', 'A256GCM', 2000, []],
    ['PBES2-HS384+A192KW with A192GCM', 'compact', 'PBES2-HS384+A192KW', 'A192GCM', 2000, []],
    ['PBES2-HS512+A256KW with A256CBC-HS512', 'flattened', 'PBES2-HS512+A256KW', 'A256CBC-HS512', 2000, []],
    ['PBES2-HS256+A128KW with A128CBC-HS256', 'compact', 'PBES2-HS256+A128KW', 'A128CBC-HS256', 2000, []],
  ] as [string, string, string, string, number, string[]][])('%s', async (_name, form, alg, enc, p2c, extra) => {
    const text = python(form, alg, enc, p2c, PASSWORD, extra);
    expect(looksLikeJwe(text)).toBe(true);
    expect(await decryptJwk(text, PASSWORD)).toEqual(JWK);
  });

  it('says "wrong password" for a wrong password, without the password', async () => {
    const error = await rejection(
      decryptJwk(python('compact', 'PBES2-HS256+A128KW', 'A128GCM', 1000), 'not the password'),
    );
    expect(error.code).toBe('ERR_DECRYPT_FAILED');
    expect(error.message).toMatch(/^wrong password/);
    expect(error.message).not.toContain('not the password');
  });

  it('detects a tampered ciphertext', async () => {
    const jwe = JSON.parse(python('flattened', 'PBES2-HS256+A128KW', 'A256GCM', 1000));
    const c = Buffer.from(jwe.ciphertext, 'base64url');
    c[0] = (c[0] ?? 0) ^ 1;
    jwe.ciphertext = c.toString('base64url');
    expect((await rejection(decryptJwk(JSON.stringify(jwe), PASSWORD))).code).toBe('ERR_DECRYPT_FAILED');
  });
});

describe('hostile or malformed input is refused before key derivation', () => {
  const header = (h: Record<string, unknown>) =>
    `${b64json(h)}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`;
  const good = { alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', p2c: 1000, p2s: 'AAAAAAAAAAAAAAAAAAAAAA' };

  // 2^31 PBKDF2 iterations would take hours: finishing within the test timeout shows the count is
  // refused before any key derivation.
  it('refuses p2c above 1000000 before deriving a key', async () => {
    const error = await rejection(decryptJwk(header({ ...good, p2c: 2 ** 31 }), PASSWORD));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/p2c.*above 1000000/);
  });

  it.each([
    ['p2s shorter than 8 bytes', { ...good, p2s: 'AAAAAAAA' }, /p2s/],
    ['no p2s', { ...good, p2s: undefined }, /p2s/],
    ['p2c not a number', { ...good, p2c: '1000' }, /p2c/],
    ['p2c zero', { ...good, p2c: 0 }, /p2c/],
    ['a non-password alg', { ...good, alg: 'dir' }, /not a password algorithm/],
    ['alg none', { ...good, alg: 'none' }, /not a password algorithm/],
    ['an unknown enc', { ...good, enc: 'A512GCM' }, /"enc"/],
    ['zip', { ...good, zip: 'DEF' }, /compressed/],
    ['crit', { ...good, crit: ['x'] }, /crit/],
    ['a cty that is not a JWK', { ...good, cty: 'JWT' }, /cty/],
  ])('%s', async (_name, h, pattern) => {
    const error = await rejection(decryptJwk(header(h), PASSWORD));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(pattern);
  });

  it.each([
    ['four parts', 'a.b.c.d'],
    ['garbage JSON', '{"ciphertext": '],
    ['a protected header that is not JSON', 'bm90IGpzb24.AA.AA.AA.AA'],
    ['two recipients', JSON.stringify({ ciphertext: 'AA', recipients: [{}, {}] })],
    ['a JSON object with no ciphertext', JSON.stringify({ protected: 'AA' })],
  ])('%s', async (_name, text) => {
    expect((await rejection(decryptJwk(text, PASSWORD))).code).toBe('ERR_INPUT_INVALID');
  });

  it('refuses a JWE whose payload is not a JWK', async () => {
    const { FlattenedEncrypt } = await import('jose');
    const jwe = await new FlattenedEncrypt(new TextEncoder().encode('"just a string"'))
      .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM' })
      .setKeyManagementParameters({ p2c: 1000 })
      .encrypt(new TextEncoder().encode(PASSWORD));
    expect((await rejection(decryptJwk(JSON.stringify(jwe), PASSWORD))).message).toMatch(/not a JSON object/);
  });
});

import { CompactEncrypt, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ok, sharedDir } from '../toolbox/helpers.js';
import {
  algCases,
  caseName,
  joseDecrypt,
  joseEncrypt,
  joseHas,
  jwcrypto,
  keymintDecrypt,
  keymintEncrypt,
  readKey,
  type AlgCase,
} from './support.js';
import { newKeyPair } from '@keymint/test-kit';

/**
 * Issue 13, interop: every algorithm it lists (RSA-OAEP, RSA-OAEP-256, RSA1_5; ECDH-ES and
 * ECDH-ES+A128/192/256KW on P-256, P-384, P-521, X25519 and X448; A128/192/256KW,
 * A128/192/256GCMKW, dir), with software keys made by `keymint create`, both ways with jwcrypto
 * (Debian) and with panva jose: JWEs made by `keymint encrypt` are decrypted by them, and JWEs
 * they make are decrypted by `keymint decrypt`. jose 6 has neither RSA1_5 nor X448: those go
 * with jwcrypto only, and the last test shows jose refusing them.
 */

const dir = sharedDir();
const cases = algCases();
const names = new Map<AlgCase, string>();
const payload = (c: AlgCase, by: string) => `${by}: ${caseName(c)} — ünïcödé`;
const subtle = (c: AlgCase) => (c.alg === 'RSA1_5' ? ['--subtle'] : []);

beforeAll(async () => {
  for (const [i, c] of cases.entries()) {
    const name = `k${i}`;
    names.set(c, name);
    await ok(['create', ...c.flags, '--no-password', '--insecure', `${name}.pub.json`, `${name}.json`], { cwd: dir });
  }
}, 300_000);

const key = (c: AlgCase) => names.get(c) as string;

describe('keymint and jwcrypto (Debian python3-jwcrypto)', () => {
  it.each(cases.map((c) => [caseName(c), c] as const))('%s: keymint encrypts, jwcrypto decrypts', async (_name, c) => {
    const jwe = await keymintEncrypt(`${key(c)}.pub.json`, payload(c, 'keymint'), { cwd: dir }, [
      '--enc',
      c.enc,
      ...subtle(c),
    ]);
    expect(JSON.parse(Buffer.from(jwe.split('.')[0] as string, 'base64url').toString())).toMatchObject({
      alg: c.alg,
      enc: c.enc,
    });
    expect(jwcrypto(['decrypt', `${key(c)}.json`], jwe, dir).toString('utf8')).toBe(payload(c, 'keymint'));
  });

  it.each(cases.map((c) => [caseName(c), c] as const))('%s: jwcrypto encrypts, keymint decrypts', async (_name, c) => {
    const jwe = jwcrypto(['encrypt', c.alg, c.enc, `${key(c)}.pub.json`], payload(c, 'jwcrypto'), dir).toString('utf8');
    expect(await keymintDecrypt(`${key(c)}.json`, jwe, { cwd: dir }, subtle(c))).toBe(payload(c, 'jwcrypto'));
  });
});

describe('keymint and panva jose', () => {
  const withJose = cases.filter(joseHas);
  it.each(withJose.map((c) => [caseName(c), c] as const))('%s: keymint encrypts, jose decrypts', async (_name, c) => {
    const jwe = await keymintEncrypt(`${key(c)}.pub.json`, payload(c, 'keymint'), { cwd: dir }, ['--enc', c.enc]);
    expect(await joseDecrypt(jwe, readKey(dir, `${key(c)}.json`), c.alg)).toBe(payload(c, 'keymint'));
  });

  it.each(withJose.map((c) => [caseName(c), c] as const))('%s: jose encrypts, keymint decrypts', async (_name, c) => {
    const jwe = await joseEncrypt(readKey(dir, `${key(c)}.pub.json`), c.alg, c.enc, payload(c, 'jose'));
    expect(await keymintDecrypt(`${key(c)}.json`, jwe, { cwd: dir })).toBe(payload(c, 'jose'));
  });

  it('jose 6 has neither RSA1_5 nor ECDH on X448 (those are checked with jwcrypto above)', async () => {
    const rsa = newKeyPair('rsa', { modulusLength: 2048 }).publicKey;
    await expect(
      new CompactEncrypt(new Uint8Array([1])).setProtectedHeader({ alg: 'RSA1_5', enc: 'A128GCM' }).encrypt(rsa),
    ).rejects.toThrow(/Invalid or unsupported "alg"/);
    const x448 = newKeyPair('x448').publicJwk;
    await expect(importJWK(x448 as Parameters<typeof importJWK>[0], 'ECDH-ES')).rejects.toThrow(/unsupported/i);
    expect(cases.filter((c) => !joseHas(c)).map((c) => caseName(c).replace(/ with .*/, ''))).toEqual([
      'RSA1_5',
      'ECDH-ES X448',
      'ECDH-ES+A128KW X448',
      'ECDH-ES+A192KW X448',
      'ECDH-ES+A256KW X448',
    ]);
  });
});

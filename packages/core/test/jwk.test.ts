import { describe, expect, it } from 'vitest';
import { KeymintError } from '../src/errors.js';
import { MAX_JSON_DEPTH, checkJwk, parseJsonObject, toPublicJwk, type Jwk } from '../src/jwk.js';
import { newKeyPair } from '@keymint/test-kit';

const EC = newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk;
const OTHER_EC = newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk;
const RSA = newKeyPair('rsa', { modulusLength: 2048 }).privateJwk as Jwk;

function refusal(jwk: Jwk): string {
  try {
    checkJwk(jwk, 'key.json');
  } catch (error) {
    expect(error).toBeInstanceOf(KeymintError);
    expect((error as KeymintError).code).toBe('ERR_INPUT_INVALID');
    return (error as KeymintError).message;
  }
  return 'accepted';
}

describe('checkJwk', () => {
  it('accepts real keys, private and public, and JWKs of types it does not know', () => {
    for (const jwk of [
      EC,
      toPublicJwk(EC),
      RSA,
      toPublicJwk(RSA),
      { kty: 'oct', k: 'AAAAAAAAAAAAAAAAAAAAAA' },
      { kty: 'AKP', pub: 'x' },
    ]) {
      expect(refusal(jwk)).toBe('accepted');
    }
  });

  it.each([
    ['a "d" that is not base64url', { ...EC, d: `${EC.d as string}!` }, /"d" is not base64url/],
    ['an "x" that is a number', { ...EC, x: 5 as unknown as string }, /"x" is not base64url/],
    [
      'an unknown curve',
      { ...toPublicJwk(EC), crv: 'P-999' },
      /"crv" "P-999" is not a curve for EC keys: use P-256, P-384, P-521 or secp256k1/,
    ],
    ['a point off the curve', { ...toPublicJwk(EC), y: OTHER_EC.y }, /OpenSSL does not accept it/],
    [
      'a "d" too long for the curve',
      { ...EC, d: `${EC.d as string}AAAA` },
      /"d" is 35 bytes long, and a P-256 key's is 32/,
    ],
    ['a "d" of another key', { ...EC, d: OTHER_EC.d }, /private members do not belong to its public members/],
    ['an RSA key without "e"', { kty: 'RSA', n: RSA.n }, /needs both "n" and "e"/],
    ['an oct key without "k"', { kty: 'oct' }, /"k" is missing or empty/],
  ])('refuses %s', (_name, jwk, pattern) => {
    expect(refusal(jwk as Jwk)).toMatch(pattern);
  });
});

describe('parseJsonObject', () => {
  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels before parsing, and counts only structure`, () => {
    const deep = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
    expect(() => parseJsonObject(deep(MAX_JSON_DEPTH), 'f')).not.toThrow();
    expect(() => parseJsonObject(deep(MAX_JSON_DEPTH + 1), 'f')).toThrow(/f nests JSON more than 32 levels deep/);
    expect(() => parseJsonObject(`{"a":"${'['.repeat(1000)}\\"["}`, 'f')).not.toThrow();
  });
});

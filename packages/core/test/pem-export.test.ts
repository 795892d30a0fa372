import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { thrown, newKeyPair } from '@keymint/test-kit';
import { toPublicJwk, type Jwk } from '../src/jwk.js';
import { importPem } from '../src/pem.js';
import { PEM_PBKDF2_COUNT, exportPem } from '../src/pem-export.js';

const KEYS: [string, Jwk][] = [
  ['RSA 2048', newKeyPair('rsa', { modulusLength: 2048 }).privateJwk as Jwk],
  ['EC P-256', newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk],
  ['EC P-384', newKeyPair('ec', { namedCurve: 'secp384r1' }).privateJwk as Jwk],
  ['EC P-521', newKeyPair('ec', { namedCurve: 'secp521r1' }).privateJwk as Jwk],
  ['EC secp256k1', newKeyPair('ec', { namedCurve: 'secp256k1' }).privateJwk as Jwk],
  ['OKP Ed25519', newKeyPair('ed25519').privateJwk as Jwk],
  ['OKP Ed448', newKeyPair('ed448').privateJwk as Jwk],
  ['OKP X25519', newKeyPair('x25519').privateJwk as Jwk],
  ['OKP X448', newKeyPair('x448').privateJwk as Jwk],
];
const PASSWORD = 'correct horse battery staple';

const openssl = (args: string[], input: string) => execFileSync('openssl', args, { input }).toString();

/** Loads a PEM with Python's cryptography (a third implementation) and prints its SPKI PEM. */
function pythonSpki(pem: string, password?: string): string {
  const script = `
import sys
from cryptography.hazmat.primitives import serialization
data = sys.stdin.buffer.read()
pw = sys.argv[1].encode() if len(sys.argv) > 1 else None
key = serialization.load_pem_private_key(data, password=pw)
sys.stdout.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
`;
  return execFileSync('/usr/bin/python3', ['-c', script, ...(password === undefined ? [] : [password])], {
    input: pem,
  }).toString();
}

describe('exportPem, checked with openssl and Python cryptography', () => {
  it.each(KEYS)('%s: SPKI of the public key equals what openssl derives from the PKCS#8', (_name, jwk) => {
    const spki = exportPem(jwk, { publicOnly: true });
    expect(spki).toMatchObject({ format: 'SPKI public key', private: false });
    expect(spki.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const pkcs8 = exportPem(jwk);
    expect(pkcs8).toMatchObject({ format: 'PKCS#8 private key', private: true });
    expect(pkcs8.pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(openssl(['pkey', '-pubout'], pkcs8.pem)).toBe(spki.pem);
    expect(exportPem(toPublicJwk(jwk)).pem, 'a public JWK gives its SPKI').toBe(spki.pem);
    expect(createPrivateKey(pkcs8.pem).export({ format: 'jwk' })).toEqual(jwk);
  });

  it.each(KEYS)('%s: Python cryptography reads the PKCS#8 and the encrypted PKCS#8', (_name, jwk) => {
    const spki = exportPem(jwk, { publicOnly: true }).pem;
    expect(pythonSpki(exportPem(jwk).pem)).toBe(spki);
    expect(pythonSpki(exportPem(jwk, { password: PASSWORD, pbkdf2Count: 1000 }).pem, PASSWORD)).toBe(spki);
  });

  it.each(KEYS)('%s: encrypted PKCS#8 opens in openssl with the password, and not without it', (_name, jwk) => {
    const { pem, format, private: isPrivate } = exportPem(jwk, { password: PASSWORD, pbkdf2Count: 1000 });
    expect(format).toBe('encrypted PKCS#8 private key');
    expect(isPrivate).toBe(true);
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(pem).not.toContain(jwk.d as string);
    expect(openssl(['pkey', '-pubout', '-passin', `pass:${PASSWORD}`], pem)).toBe(
      exportPem(jwk, { publicOnly: true }).pem,
    );
    const wrong = spawnSync('openssl', ['pkey', '-pubout', '-passin', 'pass:wrong'], { input: pem });
    expect(wrong.status).not.toBe(0);
  });

  it('encrypts with PBES2: PBKDF2-HMAC-SHA256, 600000 iterations by default, a 16-byte salt, AES-256-CBC', () => {
    expect(PEM_PBKDF2_COUNT).toBe(600_000);
    const { pem } = exportPem(KEYS[1]?.[1] as Jwk, { password: PASSWORD });
    const dump = openssl(['asn1parse'], pem);
    expect(dump).toMatch(/OBJECT\s+:PBES2/);
    expect(dump).toMatch(/OBJECT\s+:PBKDF2/);
    expect(dump).toMatch(/OBJECT\s+:hmacWithSHA256/);
    expect(dump).toMatch(/OBJECT\s+:aes-256-cbc/);
    expect(dump).toMatch(/INTEGER\s+:0927C0\n/);
    expect(dump).toMatch(/l= {2}16 prim: OCTET STRING/);
    expect(openssl(['pkey', '-pubout', '-passin', `pass:${PASSWORD}`], pem)).toBe(
      exportPem(KEYS[1]?.[1] as Jwk, { publicOnly: true }).pem,
    );
  });

  it("keymint's own PEM reader opens the encrypted export (round trip)", async () => {
    const jwk = KEYS[0]?.[1] as Jwk;
    const imported = await importPem(exportPem(jwk, { password: PASSWORD, pbkdf2Count: 1000 }).pem, {
      password: async () => PASSWORD,
    });
    expect(imported.privateJwk).toEqual(jwk);
    expect(imported.format).toBe('encrypted PKCS#8 private key');
  });

  it('every export has a fresh salt and IV', () => {
    const jwk = KEYS[1]?.[1] as Jwk;
    expect(exportPem(jwk, { password: PASSWORD, pbkdf2Count: 1000 }).pem).not.toBe(
      exportPem(jwk, { password: PASSWORD, pbkdf2Count: 1000 }).pem,
    );
  });
});

describe('exportPem refuses', () => {
  it('an oct key: it has no PEM form', () => {
    const error = thrown(() => exportPem({ kty: 'oct', k: 'AAAA' }));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/oct key has no PEM form/);
  });

  it('a password for a public key, and an empty password', () => {
    const jwk = KEYS[1]?.[1] as Jwk;
    expect(thrown(() => exportPem(toPublicJwk(jwk), { password: PASSWORD })).code).toBe('ERR_PARAM_INVALID');
    expect(thrown(() => exportPem(jwk, { publicOnly: true, password: PASSWORD })).code).toBe('ERR_PARAM_INVALID');
    expect(thrown(() => exportPem(jwk, { password: '' })).message).toMatch(/empty/);
  });

  it('a malformed JWK', () => {
    const error = thrown(() => exportPem({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' }));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/cannot be turned into a PEM key/);
  });

  it('a PBKDF2 count below 1000', () => {
    expect(thrown(() => exportPem(KEYS[1]?.[1] as Jwk, { password: PASSWORD, pbkdf2Count: 10 })).code).toBe(
      'ERR_PARAM_INVALID',
    );
  });
});

it('createPublicKey of the SPKI gives the public JWK back', () => {
  for (const [, jwk] of KEYS)
    expect(createPublicKey(exportPem(jwk, { publicOnly: true }).pem).export({ format: 'jwk' })).toEqual(
      toPublicJwk(jwk),
    );
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pythonThumbprint, newKeyPair } from '@keymint/test-kit';
import type { Jwk } from '../src/jwk.js';
import { thumbprint, thumbprintUri } from '../src/thumbprint.js';

// RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
const RFC7638_KEY: Jwk = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
};

describe('RFC 7638 / RFC 8037 / RFC 9278 vectors', () => {
  it('rfc7638-3.1: the RSA example key', async () => {
    expect(await thumbprint(RFC7638_KEY)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('rfc8037-A.3: the Ed25519 example key', async () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    expect(await thumbprint(jwk)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('rfc9278-3: the thumbprint URI of the RFC 7638 key', async () => {
    expect(await thumbprintUri(RFC7638_KEY)).toBe(
      'urn:ietf:params:oauth:jwk-thumbprint:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
  });

  it('ignores non-required members and private members', async () => {
    const withExtras = { ...RFC7638_KEY, use: 'sig', d: 'secret', kid: 'other' };
    expect(await thumbprint(withExtras)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('supports sha384 and sha512 (lengths 48 and 64 bytes)', async () => {
    expect(Buffer.from(await thumbprint(RFC7638_KEY, 'sha384'), 'base64url')).toHaveLength(48);
    expect(Buffer.from(await thumbprint(RFC7638_KEY, 'sha512'), 'base64url')).toHaveLength(64);
    expect(await thumbprintUri(RFC7638_KEY, 'sha512')).toMatch(/^urn:ietf:params:oauth:jwk-thumbprint:sha-512:/);
  });

  it('refuses an unknown hash and a key missing a required member', async () => {
    await expect(thumbprint(RFC7638_KEY, 'md5' as 'sha256')).rejects.toMatchObject({ code: 'ERR_PARAM_INVALID' });
    await expect(thumbprint({ kty: 'EC', crv: 'P-256', x: 'AA' })).rejects.toMatchObject({ code: 'ERR_INPUT_INVALID' });
  });
});

describe('cross-checked with other implementations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-thp-'));
  const keys: [string, Jwk][] = [
    ['EC P-256', newKeyPair('ec', { namedCurve: 'prime256v1' }).publicJwk as Jwk],
    ['EC P-384', newKeyPair('ec', { namedCurve: 'secp384r1' }).publicJwk as Jwk],
    ['EC P-521', newKeyPair('ec', { namedCurve: 'secp521r1' }).publicJwk as Jwk],
    ['EC secp256k1', newKeyPair('ec', { namedCurve: 'secp256k1' }).publicJwk as Jwk],
    ['RSA 2048', newKeyPair('rsa', { modulusLength: 2048 }).publicJwk as Jwk],
    ['OKP Ed25519', newKeyPair('ed25519').publicJwk as Jwk],
    ['OKP Ed448', newKeyPair('ed448').publicJwk as Jwk],
    ['OKP X25519', newKeyPair('x25519').publicJwk as Jwk],
    ['OKP X448', newKeyPair('x448').publicJwk as Jwk],
    ['oct', { kty: 'oct', k: 'GawgguFyGrWKav7AX4VKUg' }],
  ];

  it.each(keys)('%s: equals an RFC 7638 thumbprint computed by Python', async (_name, jwk) => {
    expect(await thumbprint(jwk)).toBe(pythonThumbprint(jwk));
  });

  // Debian 12's jose 11 hashes uninitialized memory for OKP keys, so only EC, RSA and oct here.
  it.each(keys.filter(([name]) => !name.startsWith('OKP')))(
    '%s: equals `jose jwk thp` (the C tool)',
    async (name, jwk) => {
      const file = join(dir, `${name.replace(/\W/g, '_')}.json`);
      writeFileSync(file, JSON.stringify(jwk));
      expect(await thumbprint(jwk)).toBe(
        execFileSync('jose', ['jwk', 'thp', '-i', file, '-a', 'S256']).toString().trim(),
      );
    },
  );
});

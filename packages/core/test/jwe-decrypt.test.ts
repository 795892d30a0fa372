import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactEncrypt, FlattenedEncrypt, GeneralEncrypt, importJWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { rejection } from '@keymint/test-kit';
import { ErrorCode, type KeymintError } from '../src/errors.js';
import { decrypt } from '../src/jwe-decrypt.js';
import { encrypt } from '../src/jwe-encrypt.js';
import { toPublicJwk, type Jwk } from '../src/jwk.js';
import { calls, octJwk, opened, privateJwk } from './support/jwe-backend.js';

const utf8 = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** A JWE made by jose (not keymint) to a key. */
async function joseJwe(
  jwk: Jwk,
  alg: string,
  enc: string,
  header: Record<string, unknown> = {},
  payload = `made by jose for ${alg} ${enc}`,
): Promise<string> {
  const key = await importJWK((jwk.kty === 'oct' ? jwk : toPublicJwk(jwk)) as Parameters<typeof importJWK>[0], alg);
  return new CompactEncrypt(new TextEncoder().encode(payload)).setProtectedHeader({ alg, enc, ...header }).encrypt(key);
}

/** A compact JWE with its protected header rewritten (the tag no longer checks, which is not the point). */
function withHeader(jwe: string, change: (header: Record<string, unknown>) => Record<string, unknown>): string {
  const [prot, ...rest] = jwe.split('.');
  const header = JSON.parse(Buffer.from(prot as string, 'base64url').toString('utf8')) as Record<string, unknown>;
  return [b64(JSON.stringify(change(header))), ...rest].join('.');
}

/** A compact JWE with part `index` (0 header ... 4 tag) replaced. */
function withPart(jwe: string, index: number, value: string): string {
  const parts = jwe.split('.');
  parts[index] = value;
  return parts.join('.');
}

const RSA = privateJwk('rsa', { kid: 'rsa-1' });
const P256 = privateJwk('ec', { kid: 'p256-1' });
const P384 = privateJwk('ec', { kid: 'p384-1' }, 'secp384r1');
const P521 = privateJwk('ec', {}, 'secp521r1');
const X25519 = privateJwk('x25519');

beforeEach(() => {
  calls.length = 0;
});

describe('decrypt: RFC 7520 §5 vectors', () => {
  const vectors = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'rfc7520-jwe.json'), 'utf8')) as Record<
    string,
    { alg: string; enc: string; key: Jwk; plaintext: string; compact: string }
  >;
  it.each(Object.entries(vectors))('%s', async (_name, vector) => {
    const result = await decrypt(vector.compact, opened(vector.key), { subtle: vector.alg === 'RSA1_5' });
    expect(utf8(result.plaintext)).toBe(vector.plaintext);
    expect(result).toMatchObject({ alg: vector.alg, enc: vector.enc, kid: vector.key.kid });
  });

  it('rfc7520-5.1 (RSA1_5) is refused without subtle, before the backend is asked', async () => {
    const vector = vectors['rfc7520-5.1'] as { key: Jwk; compact: string };
    const error = await rejection<KeymintError>(decrypt(vector.compact, opened(vector.key)));
    expect(error.code).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    expect(error.message).toMatch(/RSA1_5 is refused: it is open to padding-oracle attacks/);
    expect(calls).toEqual([]);
  });
});

describe('decrypt: JWEs made by jose', () => {
  const encs = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];
  const keys: [string, Jwk][] = [
    ['RSA-OAEP', RSA],
    ['RSA-OAEP-256', RSA],
    ['ECDH-ES', P256],
    ['ECDH-ES+A128KW', P384],
    ['ECDH-ES+A192KW', P521],
    ['ECDH-ES+A256KW', X25519],
    ['A128KW', octJwk(128)],
    ['A192KW', octJwk(192)],
    ['A256KW', octJwk(256)],
    ['A128GCMKW', octJwk(128)],
    ['A192GCMKW', octJwk(192)],
    ['A256GCMKW', octJwk(256)],
  ];
  it.each(keys.flatMap(([alg, jwk]) => encs.map((enc) => [alg, enc, jwk] as const)))(
    '%s with %s',
    async (alg, enc, jwk) => {
      const result = await decrypt(await joseJwe(jwk, alg, enc), opened(jwk));
      expect(utf8(result.plaintext)).toBe(`made by jose for ${alg} ${enc}`);
      expect(result.header).toMatchObject({ alg, enc });
    },
  );

  it.each([
    ['A128GCM', 128],
    ['A192GCM', 192],
    ['A256GCM', 256],
    ['A128CBC-HS256', 256],
    ['A192CBC-HS384', 384],
    ['A256CBC-HS512', 512],
  ] as const)('dir with %s (a %d-bit key)', async (enc, bits) => {
    const jwk = octJwk(bits);
    expect(utf8((await decrypt(await joseJwe(jwk, 'dir', enc), opened(jwk))).plaintext)).toBe(
      `made by jose for dir ${enc}`,
    );
  });

  it('reads the flattened and the general JSON serialization, with an unprotected header and aad', async () => {
    const key = await importJWK(toPublicJwk(P256) as Parameters<typeof importJWK>[0], 'ECDH-ES');
    const flattened = await new FlattenedEncrypt(new TextEncoder().encode('flat'))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A128GCM' })
      .setSharedUnprotectedHeader({ kid: 'p256-1' })
      .setAdditionalAuthenticatedData(new TextEncoder().encode('extra'))
      .encrypt(key);
    const result = await decrypt(JSON.stringify(flattened), opened(P256));
    expect(utf8(result.plaintext)).toBe('flat');
    expect(result.kid).toBe('p256-1');
    const general = await new GeneralEncrypt(new TextEncoder().encode('general'))
      .setProtectedHeader({ enc: 'A256GCM' })
      .addRecipient(key)
      .setUnprotectedHeader({ alg: 'ECDH-ES' })
      .encrypt();
    expect(utf8((await decrypt(JSON.stringify(general), opened(P256))).plaintext)).toBe('general');
    // The aad is authenticated: changed, nothing decrypts.
    expect(
      (await rejection<KeymintError>(decrypt(JSON.stringify({ ...flattened, aad: b64('other') }), opened(P256)))).code,
    ).toBe(ErrorCode.DECRYPT_FAILED);
  });
});

describe('decrypt: the key', () => {
  it('chooses the key with the JWE kid from several; without a kid in the JWE, tries each that fits', async () => {
    const keys = [opened(P256), opened(RSA), opened(P384)];
    const jwe = await joseJwe(P384, 'ECDH-ES', 'A256GCM', { kid: 'p384-1' });
    expect((await decrypt(jwe, keys)).key.jwk.kid).toBe('p384-1');
    const noKid = await joseJwe(P384, 'ECDH-ES', 'A256GCM');
    expect((await decrypt(noKid, [opened(privateJwk('ec', {}, 'secp384r1')), opened(P384)])).key.jwk.kid).toBe(
      'p384-1',
    );
    const error = await rejection<KeymintError>(
      decrypt(await joseJwe(P384, 'ECDH-ES', 'A256GCM', { kid: 'gone' }), keys, { source: 'jwks.json' }),
    );
    expect(error.code).toBe(ErrorCode.KEY_NOT_FOUND);
    expect(error.message).toBe('jwks.json has no key with kid "gone", the kid in the JWE\'s header');
  });

  it('a key for signing, or made for another alg, is refused before the backend is asked', async () => {
    const sig = { ...RSA, use: 'sig' };
    const jwe = await joseJwe(RSA, 'RSA-OAEP', 'A256GCM');
    const signing = await rejection<KeymintError>(decrypt(jwe, opened(sig)));
    expect(signing.code).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    expect(signing.message).toMatch(/is for signing \("use": "sig"\): it cannot be used for RSA-OAEP/);
    expect((await rejection<KeymintError>(decrypt(jwe, opened({ ...RSA, alg: 'RSA-OAEP-256' })))).message).toMatch(
      /alg RSA-OAEP does not fit the key, whose "alg" is RSA-OAEP-256/,
    );
    expect((await rejection<KeymintError>(decrypt(jwe, opened({ ...RSA, alg: 'RS256' })))).code).toBe(
      ErrorCode.ALG_NOT_SUPPORTED,
    );
    expect((await rejection<KeymintError>(decrypt(jwe, opened(P256)))).message).toMatch(
      /RSA-OAEP does not fit a EC P-256 key/,
    );
    expect(calls).toEqual([]);
  });

  it('a backend that does not offer decryption says so, by name', async () => {
    const signOnly = { ...opened(RSA).backend, name: 'signer', capabilities: { exportable: true, keyTypes: [] } };
    const error = await rejection<KeymintError>(
      decrypt(await joseJwe(RSA, 'RSA-OAEP-256', 'A256GCM'), opened(RSA, signOnly)),
    );
    expect(error.code).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    expect(error.message).toBe(
      'RSA-OAEP-256 is not supported by backend "signer": it cannot decrypt with the keys it holds',
    );
  });
});

describe('decrypt: one error for every failure', () => {
  it.each([
    ['RSA-OAEP', 'A256GCM'],
    ['RSA-OAEP-256', 'A128CBC-HS256'],
    ['RSA1_5', 'A128CBC-HS256'],
  ])(
    '%s with %s: a changed encrypted key, a wrong key, a changed tag and a changed ciphertext fail alike',
    async (alg, enc) => {
      const { compact } = await encrypt('secret', toPublicJwk(RSA), { alg, enc, subtle: true });
      const parts = compact.split('.');
      const ek = Buffer.from(parts[1] as string, 'base64url');
      ek[ek.length - 1] = (ek[ek.length - 1] as number) ^ 1;
      const tag = Buffer.from(parts[4] as string, 'base64url');
      tag[0] = (tag[0] as number) ^ 1;
      const ct = Buffer.from(parts[3] as string, 'base64url');
      ct[0] = (ct[0] as number) ^ 1;
      const other = { ...privateJwk('rsa'), kid: 'rsa-1' };
      const errors = await Promise.all([
        rejection(decrypt(withPart(compact, 1, b64(ek)), opened(RSA), { subtle: true })),
        rejection(decrypt(compact, opened(other), { subtle: true })),
        rejection(decrypt(withPart(compact, 4, b64(tag)), opened(RSA), { subtle: true })),
        rejection(decrypt(withPart(compact, 3, b64(ct)), opened(RSA), { subtle: true })),
      ]);
      for (const error of errors) {
        expect(error.code).toBe(ErrorCode.DECRYPT_FAILED);
        expect(error.message).toBe(
          'the JWE does not decrypt with key "rsa-1": it was encrypted to another key, or changed',
        );
      }
    },
  );
});

describe('decrypt: an RSA encrypted key not below the modulus', () => {
  it.each(['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5'])(
    '%s: the modulus itself and all ones give the one error, and the backend is not asked',
    async (alg) => {
      const { compact } = await encrypt('secret', toPublicJwk(RSA), { alg, enc: 'A256GCM', subtle: true });
      const n = Buffer.from(RSA.n as string, 'base64url');
      for (const ek of [n, Buffer.alloc(n.length, 0xff)]) {
        const error = await rejection<KeymintError>(
          decrypt(withPart(compact, 1, b64(ek)), opened(RSA), { subtle: true }),
        );
        expect(error.code).toBe(ErrorCode.DECRYPT_FAILED);
        expect(error.message).toBe(
          'the JWE does not decrypt with key "rsa-1": it was encrypted to another key, or changed',
        );
      }
      expect(calls).toEqual([]);
      // One below the modulus is the backend's to decrypt (and fails at the tag).
      const below = Buffer.from(n);
      below[below.length - 1] = (below[below.length - 1] as number) - 1;
      const error = await rejection<KeymintError>(
        decrypt(withPart(compact, 1, b64(below)), opened(RSA), { subtle: true }),
      );
      expect(error.code).toBe(ErrorCode.DECRYPT_FAILED);
      expect(calls).toEqual([`unwrapKey ${alg}`]);
    },
  );
});

describe('decrypt: hostile JWEs are refused before any key is used', () => {
  const expectRefused = async (jwe: string, code: string, pattern: RegExp, key: Jwk = P256) => {
    const error = await rejection<KeymintError>(decrypt(jwe, opened(key)));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(pattern);
    expect(calls).toEqual([]);
  };

  it('zip, crit, PBES2, an unknown alg or enc', async () => {
    const jwe = await joseJwe(P256, 'ECDH-ES', 'A256GCM');
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, zip: 'DEF' })),
      ErrorCode.INPUT_INVALID,
      /is compressed \("zip"\)/,
    );
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, crit: ['exp'], exp: 1 })),
      ErrorCode.INPUT_INVALID,
      /"crit" header extensions/,
    );
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, alg: 'PBES2-HS256+A128KW', p2c: 2 ** 31, p2s: b64(randomBytes(16)) })),
      ErrorCode.ALG_NOT_SUPPORTED,
      /encrypted under a password/,
    );
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, alg: 'none' })),
      ErrorCode.ALG_NOT_SUPPORTED,
      /"alg" "none" is not one keymint decrypts/,
    );
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, enc: 'A512GCM' })),
      ErrorCode.ALG_NOT_SUPPORTED,
      /"enc" "A512GCM" is not one keymint decrypts/,
    );
  });

  it('headers too long, members named twice, headers not disjoint, non-canonical base64url, too many parts', async () => {
    const jwe = await joseJwe(P256, 'ECDH-ES', 'A256GCM');
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, pad: 'x'.repeat(9000) })),
      ErrorCode.INPUT_INVALID,
      /protected header is longer than 8192 characters/,
    );
    const [prot, ...rest] = jwe.split('.');
    const twice = Buffer.from(prot as string, 'base64url')
      .toString('utf8')
      .replace('{', '{"alg":"dir",');
    await expectRefused([b64(twice), ...rest].join('.'), ErrorCode.INPUT_INVALID, /names the member "alg" twice/);
    const flat = { protected: prot, unprotected: { enc: 'A256GCM' }, iv: rest[1], ciphertext: rest[2], tag: rest[3] };
    await expectRefused(
      JSON.stringify(flat),
      ErrorCode.INPUT_INVALID,
      /names the header member "enc" twice: headers must be disjoint/,
    );
    // A 16-byte tag is 22 characters, the last with 4 unused bits: setting one gives the same
    // bytes in a second spelling, and only the canonical one is base64url.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const tagText = rest[3] as string;
    const other = tagText.slice(0, -1) + (alphabet[alphabet.indexOf(tagText.slice(-1)) ^ 1] as string);
    expect(Buffer.from(other, 'base64url').equals(Buffer.from(tagText, 'base64url'))).toBe(true);
    await expectRefused(
      withPart(jwe, 4, other),
      ErrorCode.INPUT_INVALID,
      /authentication tag is not canonical base64url/,
    );
    await expectRefused(`${jwe}.x`, ErrorCode.INPUT_INVALID, /it has 6 dot-separated parts, not five/);
  });

  it('IVs, tags and encrypted keys of the wrong length, and a CBC ciphertext that is no multiple of 16', async () => {
    const gcm = await joseJwe(P256, 'ECDH-ES', 'A256GCM');
    await expectRefused(
      withPart(gcm, 2, b64(randomBytes(16))),
      ErrorCode.INPUT_INVALID,
      /IV is 16 bytes long; A256GCM's is 12/,
    );
    await expectRefused(
      withPart(gcm, 4, b64(randomBytes(15))),
      ErrorCode.INPUT_INVALID,
      /authentication tag is 15 bytes long; A256GCM's is 16/,
    );
    await expectRefused(
      withPart(gcm, 4, b64(randomBytes(32))),
      ErrorCode.INPUT_INVALID,
      /authentication tag is 32 bytes long/,
    );
    await expectRefused(
      withPart(gcm, 1, b64(randomBytes(40))),
      ErrorCode.INPUT_INVALID,
      /has an encrypted key, and ECDH-ES has none/,
    );
    const cbc = await joseJwe(P256, 'ECDH-ES', 'A128CBC-HS256');
    await expectRefused(
      withPart(cbc, 3, b64(randomBytes(17))),
      ErrorCode.INPUT_INVALID,
      /ciphertext is 17 bytes long: AES-CBC makes a non-zero multiple of 16/,
    );
    const kw = await joseJwe(P384, 'ECDH-ES+A128KW', 'A256GCM');
    await expectRefused(
      withPart(kw, 1, b64(randomBytes(32))),
      ErrorCode.INPUT_INVALID,
      /encrypted key is 32 bytes long; an AES-wrapped A256GCM key's is 40/,
      P384,
    );
    const rsa = await joseJwe(RSA, 'RSA-OAEP', 'A256GCM');
    await expectRefused(
      withPart(rsa, 1, b64(randomBytes(255))),
      ErrorCode.INPUT_INVALID,
      /encrypted key is 255 bytes long, and key "rsa-1" makes 256/,
      RSA,
    );
    await expectRefused(
      withPart(rsa, 1, b64(randomBytes(4096))),
      ErrorCode.INPUT_INVALID,
      /encrypted key is missing or longer than 2048 bytes/,
      RSA,
    );
  });

  it('invalid-curve attacks: an epk off the curve, on another curve, of another size, or with private members', async () => {
    const jwe = await joseJwe(P256, 'ECDH-ES', 'A256GCM');
    const epk = (JSON.parse(Buffer.from(jwe.split('.')[0] as string, 'base64url').toString('utf8')) as { epk: Jwk })
      .epk;
    const y = Buffer.from(epk.y as string, 'base64url');
    y[31] = (y[31] as number) ^ 1;
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, epk: { ...epk, y: b64(y) } })),
      ErrorCode.INPUT_INVALID,
      /the JWE "epk" holds an invalid EC key: OpenSSL does not accept it \(crv "P-256"\): the point is not on the curve/,
    );
    // A point on secp256k1, the same size as P-256, named P-256: not on P-256.
    const k1 = toPublicJwk(privateJwk('ec', {}, 'secp256k1'));
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, epk: { ...k1, crv: 'P-256' } })),
      ErrorCode.INPUT_INVALID,
      /point is not on the curve/,
    );
    // A point on P-384, named as such: not the key's curve.
    const p384 = toPublicJwk(P384);
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, epk: { kty: 'EC', crv: 'P-384', x: p384.x, y: p384.y } })),
      ErrorCode.INPUT_INVALID,
      /"epk" is "EC" "P-384", and the key is EC P-256: an ephemeral key must be on the key's curve/,
    );
    // P-384 coordinates named P-256.
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, epk: { kty: 'EC', crv: 'P-256', x: p384.x, y: p384.y } })),
      ErrorCode.INPUT_INVALID,
      /its "x" is 48 bytes long, and a P-256 key's is 32/,
    );
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, epk: { ...epk, d: P256.d } })),
      ErrorCode.INPUT_INVALID,
      /"epk" holds private key members/,
    );
    await expectRefused(
      withHeader(jwe, (h) => ({ ...h, epk: undefined })),
      ErrorCode.INPUT_INVALID,
      /has no "epk"/,
    );
  });

  it('an X25519 epk of small order gives no shared secret, and is refused', async () => {
    const jwe = await joseJwe(X25519, 'ECDH-ES', 'A256GCM');
    for (const x of [b64(Buffer.alloc(32)), b64(Buffer.from([1, ...Buffer.alloc(31)]))]) {
      const error = await rejection<KeymintError>(
        decrypt(
          withHeader(jwe, (h) => ({ ...h, epk: { kty: 'OKP', crv: 'X25519', x } })),
          opened(X25519),
        ),
      );
      expect(error.code).toBe(ErrorCode.INPUT_INVALID);
    }
  });

  it('a JWE past MAX_JWE_LENGTH is refused without being read', async () => {
    const error = await rejection<KeymintError>(decrypt('a'.repeat(24 * 1024 * 1024 + 1), opened(P256)));
    expect(error.message).toMatch(/is longer than 25165824 characters/);
  });
});

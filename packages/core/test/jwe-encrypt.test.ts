import { compactDecrypt, flattenedDecrypt, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type KeymintError } from '../src/errors.js';
import { decrypt } from '../src/jwe-decrypt.js';
import { encrypt } from '../src/jwe-encrypt.js';
import { toPublicJwk, type Jwk } from '../src/jwk.js';
import { asCommandLine, rejection } from '@keymint/test-kit';
import { octJwk, opened, privateJwk } from './support/jwe-backend.js';

const b64 = (value: Uint8Array) => Buffer.from(value).toString('base64url');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

const RSA = privateJwk('rsa', { kid: 'rsa-1' });
const P256 = privateJwk('ec', { kid: 'p256-1' });

describe('encrypt: JWEs that jose decrypts', () => {
  const encs = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];
  const keys: [string, Jwk][] = [
    ['RSA-OAEP', RSA],
    ['RSA-OAEP-256', RSA],
    ['ECDH-ES', P256],
    ['ECDH-ES+A128KW', privateJwk('ec', {}, 'secp384r1')],
    ['ECDH-ES+A192KW', privateJwk('ec', {}, 'secp521r1')],
    ['ECDH-ES+A256KW', privateJwk('x25519')],
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
      const made = await encrypt(`to jose with ${alg} ${enc}`, jwk.kty === 'oct' ? jwk : toPublicJwk(jwk), {
        alg,
        enc,
      });
      const key = await importJWK(jwk as Parameters<typeof importJWK>[0], alg);
      const { plaintext, protectedHeader } = await compactDecrypt(made.compact, key);
      expect(text(plaintext)).toBe(`to jose with ${alg} ${enc}`);
      expect(protectedHeader).toMatchObject({ alg, enc });
      expect(text((await flattenedDecrypt(made.flattened, key)).plaintext)).toBe(`to jose with ${alg} ${enc}`);
    },
  );

  it.each([128, 192, 256, 384, 512])('dir with a %d-bit key: the enc of its size', async (bits) => {
    const jwk = octJwk(bits);
    const made = await encrypt('direct', jwk, { alg: 'dir' });
    expect(made.enc).toBe(
      { 128: 'A128GCM', 192: 'A192GCM', 256: 'A256GCM', 384: 'A192CBC-HS384', 512: 'A256CBC-HS512' }[bits],
    );
    expect(text((await compactDecrypt(made.compact, Buffer.from(jwk.k as string, 'base64url'))).plaintext)).toBe(
      'direct',
    );
  });
});

describe('encrypt: what jose cannot do, keymint does in the same steps', () => {
  it.each([
    ['RSA1_5', 'A128CBC-HS256', RSA],
    ['ECDH-ES', 'A256GCM', privateJwk('x448')],
    ['ECDH-ES+A192KW', 'A192CBC-HS384', privateJwk('x448')],
    ['ECDH-ES+A256KW', 'A128GCM', privateJwk('ec', {}, 'secp256k1')],
  ] as const)('%s with %s to %s: round trip', async (alg, enc, jwk) => {
    const made = await encrypt('not through jose', toPublicJwk(jwk), { alg, enc, subtle: true });
    expect(made.header).toMatchObject({ alg, enc });
    if (alg.startsWith('ECDH')) expect(made.header.epk).toMatchObject({ kty: jwk.kty, crv: jwk.crv });
    expect(text((await decrypt(made.compact, opened(jwk), { subtle: true })).plaintext)).toBe('not through jose');
  });
});

describe('encrypt: the key, alg and enc', () => {
  it("defaults to the key's alg and kid, else the type's alg (RSA-OAEP-256, ECDH-ES, AxxxGCMKW), and A256GCM", async () => {
    expect((await encrypt('x', toPublicJwk(RSA))).header).toEqual({
      alg: 'RSA-OAEP-256',
      enc: 'A256GCM',
      kid: 'rsa-1',
    });
    expect((await encrypt('x', toPublicJwk({ ...RSA, alg: 'RSA-OAEP' }))).alg).toBe('RSA-OAEP');
    expect((await encrypt('x', toPublicJwk(P256))).header).toMatchObject({
      alg: 'ECDH-ES',
      enc: 'A256GCM',
      kid: 'p256-1',
    });
    expect((await encrypt('x', octJwk(192))).alg).toBe('A192GCMKW');
    // A dir key named after its content encryption, as in RFC 7520 §5.6.
    expect((await encrypt('x', octJwk(128, { alg: 'A128GCM' }))).header).toEqual({ alg: 'dir', enc: 'A128GCM' });
  });

  it('takes extra protected header members (typ, cty), and refuses those keymint or the algorithm sets', async () => {
    expect((await encrypt('x', toPublicJwk(P256), { header: { cty: 'JWT', typ: 'JOSE' } })).header).toMatchObject({
      cty: 'JWT',
      typ: 'JOSE',
    });
    for (const name of ['alg', 'enc', 'zip', 'epk', 'kid']) {
      const error = await rejection<KeymintError>(encrypt('x', toPublicJwk(P256), { header: { [name]: 'x' } }));
      expect(error.code).toBe(ErrorCode.PARAM_INVALID);
    }
  });

  it('chooses from a set by kid, or the one key that can encrypt; refuses none and several', async () => {
    const set = { keys: [toPublicJwk({ ...P256, use: 'sig' }), toPublicJwk({ ...RSA, use: 'enc' })] };
    expect((await encrypt('x', set)).kid).toBe('rsa-1');
    expect((await encrypt('x', set, { kid: 'rsa-1' })).alg).toBe('RSA-OAEP-256');
    const missing = await rejection<KeymintError>(encrypt('x', set, { kid: 'gone', source: 'jwks.json' }));
    expect([missing.code, asCommandLine(missing)]).toEqual([
      ErrorCode.KEY_NOT_FOUND,
      'jwks.json has no key with --kid "gone"',
    ]);
    const two = await rejection<KeymintError>(
      encrypt('x', { keys: [toPublicJwk(RSA), toPublicJwk(P256)] }, { source: 'jwks.json' }),
    );
    expect([two.code, asCommandLine(two)]).toEqual([
      ErrorCode.PARAM_INVALID,
      'jwks.json holds 2 keys to encrypt to: choose one with --kid',
    ]);
    expect((await rejection<KeymintError>(encrypt('x', { keys: [toPublicJwk({ ...P256, use: 'sig' })] }))).code).toBe(
      ErrorCode.KEY_NOT_FOUND,
    );
  });

  it('refuses an alg that does not fit the key (exit 4 in the CLI), RSA1_5 without subtle, an unknown enc (exit 3)', async () => {
    const cases: [Jwk, { alg?: string; enc?: string }, string, RegExp][] = [
      [
        toPublicJwk(RSA),
        { alg: 'ECDH-ES' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /ECDH-ES does not fit a RSA key: use RSA1_5, RSA-OAEP or RSA-OAEP-256/,
      ],
      [
        toPublicJwk(RSA),
        { alg: 'RS256' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /"RS256" is not a JWE key management algorithm keymint uses/,
      ],
      [
        toPublicJwk(RSA),
        { alg: 'PBES2-HS256+A128KW' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /PBES2-HS256\+A128KW encrypts with a password, not with a key/,
      ],
      [
        toPublicJwk(RSA),
        { alg: 'RSA1_5' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /RSA1_5 is refused: it is open to padding-oracle attacks \(RFC 8725 §3\.2\); prefer RSA-OAEP-256; --subtle allows RSA1_5/,
      ],
      [
        toPublicJwk({ ...P256, use: 'sig' }),
        {},
        ErrorCode.ALG_NOT_SUPPORTED,
        /this EC P-256 key is for signing \("use": "sig"\): it cannot be used for ECDH-ES; use a key made with --use enc/,
      ],
      [
        toPublicJwk({ ...P256, alg: 'ES256' }),
        {},
        ErrorCode.ALG_NOT_SUPPORTED,
        /^this EC P-256 key is for ES256, a signature algorithm: it cannot encrypt; use a key made with --use enc$/,
      ],
      [
        toPublicJwk({ ...P256, alg: 'ECDH-ES' }),
        { alg: 'ECDH-ES+A128KW' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /--alg ECDH-ES\+A128KW does not fit the key, whose "alg" is ECDH-ES/,
      ],
      [
        octJwk(128),
        { alg: 'A256KW' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /A256KW needs a 256-bit key, and this oct key has 128 bits/,
      ],
      [
        octJwk(256),
        { alg: 'dir', enc: 'A128GCM' },
        ErrorCode.ALG_NOT_SUPPORTED,
        /dir with --enc A128GCM needs a 128-bit key, and this oct key has 256 bits/,
      ],
      [
        toPublicJwk(privateJwk('ec')),
        { enc: 'A128CTR' },
        ErrorCode.PARAM_INVALID,
        /--enc "A128CTR" is not a content encryption algorithm: use A128GCM, A192GCM, A256GCM, A128CBC-HS256, A192CBC-HS384 or A256CBC-HS512/,
      ],
    ];
    for (const [jwk, options, code, pattern] of cases) {
      const error = await rejection<KeymintError>(encrypt('x', jwk, options));
      expect([error.code, asCommandLine(error)], JSON.stringify(options)).toEqual([
        code,
        expect.stringMatching(pattern),
      ]);
    }
  });

  it('refuses a key that is not a key: an EC point off its curve, an RSA key with e = 1', async () => {
    const pub = toPublicJwk(P256);
    const y = Buffer.from(pub.y as string, 'base64url');
    y[0] = (y[0] as number) ^ 1;
    expect((await rejection<KeymintError>(encrypt('x', { ...pub, y: b64(y) }))).code).toBe(ErrorCode.INPUT_INVALID);
    expect((await rejection<KeymintError>(encrypt('x', { ...toPublicJwk(RSA), e: 'AQ' }))).code).toBe(
      ErrorCode.INPUT_INVALID,
    );
  });
});

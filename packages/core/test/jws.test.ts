import { constants, createPrivateKey, sign as nodeSign, type JsonWebKey } from 'node:crypto';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { asCommandLine, thrown, newKeyPair } from '@keymint/test-kit';
import type { KeyBackend, PrivatePart } from '../src/backend.js';
import { signatureScheme } from '../src/jwa.js';
import { toPublicJwk, type Jwk } from '../src/jwk.js';
import {
  CLIENT_ASSERTION_LIFETIME,
  clientAssertionClaims,
  jwtClaims,
  numericDate,
  parseDuration,
  signCompact,
  signJwt,
  signingAlgorithm,
} from '../src/jws.js';
import type { OpenedKey } from '../src/open-key.js';

const EC256 = { ...(newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk), kid: 'ec-1' };
const RSA = {
  ...(newKeyPair('rsa', { modulusLength: 2048 }).privateJwk as Jwk),
  kid: 'rsa-1',
  alg: 'RS256',
  use: 'sig',
};
const ED = { ...(newKeyPair('ed25519').privateJwk as Jwk), kid: 'ed-1' };

/**
 * The backend these unit tests sign with: Node's crypto over the JWK in hand, signatures in JOSE
 * form. (core cannot depend on @keymint/backend-software; the CLI's end-to-end tests sign with it.)
 */
const nodeBackend: KeyBackend = {
  name: 'software',
  capabilities: { exportable: true, keyTypes: [] },
  generate: () => Promise.reject(new Error('not used')),
  async sign(key: PrivatePart, alg: string, data: Uint8Array) {
    if (key.kind !== 'jwk') throw new Error('a JWK is expected');
    const scheme = signatureScheme(alg);
    const k = createPrivateKey({ key: key.jwk as JsonWebKey, format: 'jwk' });
    if (scheme.family === 'eddsa') return new Uint8Array(nodeSign(null, data, k));
    if (scheme.family === 'ecdsa')
      return new Uint8Array(nodeSign(scheme.hash, data, { key: k, dsaEncoding: 'ieee-p1363' }));
    if (scheme.family === 'rsa-pss')
      return new Uint8Array(
        nodeSign(scheme.hash, data, {
          key: k,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }),
      );
    return new Uint8Array(nodeSign(scheme.hash, data, k));
  },
  close: () => Promise.resolve(),
};

function opened(jwk: Jwk): OpenedKey {
  return { publicJwk: toPublicJwk(jwk), jwk, private: { kind: 'jwk', jwk }, backend: nodeBackend };
}

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('signingAlgorithm', () => {
  it.each([
    [{ kty: 'EC', crv: 'P-256' }, 'ES256'],
    [{ kty: 'EC', crv: 'P-384' }, 'ES384'],
    [{ kty: 'EC', crv: 'P-521' }, 'ES512'],
    [{ kty: 'EC', crv: 'secp256k1' }, 'ES256K'],
    [{ kty: 'OKP', crv: 'Ed25519' }, 'EdDSA'],
    [{ kty: 'OKP', crv: 'Ed448' }, 'EdDSA'],
    [{ kty: 'RSA' }, 'RS256'],
    [{ kty: 'oct' }, 'HS256'],
    [{ kty: 'RSA', alg: 'PS384' }, 'PS384'],
  ])('defaults %j to %s', (jwk, alg) => {
    expect(signingAlgorithm(jwk as Jwk)).toBe(alg);
  });

  it('takes a requested alg that fits the key', () => {
    expect(signingAlgorithm({ kty: 'RSA' }, 'PS512')).toBe('PS512');
  });

  it.each([
    ['an alg of another curve', { kty: 'EC', crv: 'P-256' }, 'ES384', /ES384 does not fit a EC P-256 key: use ES256/],
    ['HS256 with an RSA key', { kty: 'RSA' }, 'HS256', /HS256 does not fit/],
    ['"none"', { kty: 'RSA' }, 'none', /none/],
    [
      "an alg other than the key's own",
      { kty: 'RSA', alg: 'RS256' },
      'PS256',
      /--alg PS256 does not fit the key, whose "alg" is RS256/,
    ],
    ['an X25519 key', { kty: 'OKP', crv: 'X25519' }, undefined, /cannot sign/],
    ['a key with use enc', { kty: 'RSA', use: 'enc' }, undefined, /is for encryption/],
    [
      'a key whose alg is for encryption',
      { kty: 'RSA', alg: 'RSA-OAEP-256' },
      undefined,
      /RSA-OAEP-256 \(encryption\)/,
    ],
    ['key_ops without sign', { kty: 'EC', crv: 'P-256', key_ops: ['verify'] }, undefined, /key_ops/],
  ])('refuses %s with ERR_ALG_NOT_SUPPORTED', (_name, jwk, alg, message) => {
    const error = thrown(() => signingAlgorithm(jwk as Jwk, alg));
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(asCommandLine(error)).toMatch(message);
  });
});

describe('signCompact', () => {
  it('puts alg and the kid in the header and signs what jose verifies (ES256: a 64-byte r||s)', async () => {
    const jws = await signCompact(opened(EC256), new TextEncoder().encode('hello'));
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    expect(decode(header)).toEqual({ alg: 'ES256', kid: 'ec-1' });
    expect(Buffer.from(payload, 'base64url').toString()).toBe('hello');
    expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    const { payload: verified } = await compactVerify(jws, await importJWK(toPublicJwk(EC256), 'ES256'));
    expect(Buffer.from(verified).toString()).toBe('hello');
  });

  it('signs with the requested alg (PS256) and the extra header members', async () => {
    const { alg: _alg, ...rsa } = RSA;
    const jws = await signCompact(opened(rsa), new Uint8Array([0, 255, 1]), {
      alg: 'PS256',
      header: { typ: 'example', cty: 'bin' },
    });
    expect(decode(jws.split('.')[0] as string)).toEqual({ alg: 'PS256', kid: 'rsa-1', typ: 'example', cty: 'bin' });
    const { payload } = await compactVerify(jws, await importJWK(toPublicJwk(rsa), 'PS256'));
    expect([...payload]).toEqual([0, 255, 1]);
  });

  it.each(['alg', 'b64', 'crit'])('refuses a "%s" header from the caller', async (name) => {
    await expect(signCompact(opened(ED), new Uint8Array(), { header: { [name]: 'x' } })).rejects.toMatchObject({
      code: 'ERR_PARAM_INVALID',
    });
  });

  it('refuses an alg that does not fit before the backend is asked', async () => {
    let asked = false;
    const key = {
      ...opened(EC256),
      backend: {
        ...nodeBackend,
        sign: async () => {
          asked = true;
          return new Uint8Array();
        },
      },
    };
    await expect(signCompact(key, new Uint8Array(), { alg: 'RS256' })).rejects.toMatchObject({
      code: 'ERR_ALG_NOT_SUPPORTED',
    });
    expect(asked).toBe(false);
  });
});

describe('JWT claims', () => {
  const now = new Date('2026-01-02T03:04:05Z');
  const iat = numericDate(now);

  it('sets iss, sub, aud, iat, exp, nbf, jti and the extra claims (RFC 7519 §4.1)', () => {
    const claims = jwtClaims({
      iss: 'me',
      sub: 'alice',
      aud: 'api',
      expiresIn: 300,
      notBefore: 30,
      jti: 'id-1',
      extra: { scope: 'read', n: 5 },
      now,
    });
    expect(claims).toEqual({
      iss: 'me',
      sub: 'alice',
      aud: 'api',
      iat,
      exp: iat + 300,
      nbf: iat + 30,
      jti: 'id-1',
      scope: 'read',
      n: 5,
    });
    expect(iat).toBe(1767323045);
  });

  it('makes a random UUID jti by default ("auto"), a new one each time; null leaves it out', () => {
    const a = jwtClaims({ now }).jti;
    const b = jwtClaims({ jti: 'auto', now }).jti;
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b).not.toBe(a);
    expect(jwtClaims({ jti: null, now })).not.toHaveProperty('jti');
  });

  it('writes several audiences as an array, nbf=true as iat', () => {
    expect(jwtClaims({ aud: ['a', 'b'], notBefore: true, now })).toMatchObject({ aud: ['a', 'b'], nbf: iat });
  });

  it.each([
    [{ extra: { exp: 1 } }, /"exp" claim has its own option: use --exp/],
    [{ extra: { iss: 'x' } }, /use --iss/],
    [{ iss: '' }, /--iss must not be empty/],
    [{ aud: [] as string[] }, /--aud must not be empty/],
    [{ jti: '' }, /--jti must not be empty/],
  ])('refuses %j', (input, message) => {
    const error = thrown(() => jwtClaims(input));
    expect(error.code).toBe('ERR_PARAM_INVALID');
    expect(asCommandLine(error)).toMatch(message);
  });

  it('rfc7523-3: a client assertion has iss = sub = client ID, aud = token endpoint, a jti, iat and a short exp', () => {
    const claims = clientAssertionClaims({
      clientId: 's6BhdRkqt3',
      tokenEndpoint: 'https://server.example.com/token',
      now,
    });
    expect(claims).toEqual({
      iss: 's6BhdRkqt3',
      sub: 's6BhdRkqt3',
      aud: 'https://server.example.com/token',
      iat,
      exp: iat + 60,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(CLIENT_ASSERTION_LIFETIME).toBe(60);
    expect(
      clientAssertionClaims({ clientId: 'c', tokenEndpoint: 'https://as/token', expiresIn: 120, jti: 'j', now }),
    ).toMatchObject({ exp: iat + 120, jti: 'j' });
  });

  it('allows http for a token endpoint on localhost only', () => {
    expect(clientAssertionClaims({ clientId: 'c', tokenEndpoint: 'http://localhost:8080/token' }).aud).toBe(
      'http://localhost:8080/token',
    );
    expect(
      thrown(() => clientAssertionClaims({ clientId: 'c', tokenEndpoint: 'http://as.example.com/token' })).message,
    ).toMatch(/not an https URL/);
    expect(
      thrown(() => clientAssertionClaims({ clientId: 'c', tokenEndpoint: 'as.example.com/token' })).message,
    ).toMatch(/not a URL/);
    expect(
      asCommandLine(thrown(() => clientAssertionClaims({ clientId: '', tokenEndpoint: 'https://as/token' }))),
    ).toMatch(/--client-id must not be empty/);
  });

  it('signJwt adds typ JWT; jose jwtVerify accepts the token with its issuer and audience', async () => {
    const token = await signJwt(
      opened(RSA),
      jwtClaims({ iss: 'me', sub: 'me', aud: 'https://as/token', expiresIn: 60 }),
    );
    expect(decode(token.split('.')[0] as string)).toEqual({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT' });
    const { payload } = await jwtVerify(token, await importJWK(toPublicJwk(RSA), 'RS256'), {
      issuer: 'me',
      audience: 'https://as/token',
      typ: 'JWT',
    });
    expect(payload.sub).toBe('me');
  });
});

describe('parseDuration', () => {
  it.each([
    ['30', 30],
    ['30s', 30],
    ['5m', 300],
    ['1h', 3600],
    ['2d', 172800],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text, '--exp')).toBe(seconds);
  });

  it.each(['0', '0m', '-5', '5x', '', '1.5h', 'm'])('refuses "%s"', (text) => {
    const error = thrown(() => parseDuration(text, '--exp'));
    expect(error.code).toBe('ERR_PARAM_INVALID');
    expect(error.message).toMatch(/^--exp /);
  });
});

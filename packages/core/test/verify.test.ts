import { createHmac, sign as nodeSign, type JsonWebKey } from 'node:crypto';
import { CompactSign, SignJWT, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { rejection, thrown, newKeyPair } from '@keymint/test-kit';
import { toPublicJwk, type Jwk } from '../src/jwk.js';
import { DEFAULT_LEEWAY, decodeCompactJws, verifyCompactJws, verifyToken } from '../src/verify.js';

const KEYS: Record<string, Jwk> = {
  RS256: { ...(newKeyPair('rsa', { modulusLength: 2048 }).privateJwk as Jwk), kid: 'rsa' },
  ES256: { ...(newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk), kid: 'p256' },
  ES384: { ...(newKeyPair('ec', { namedCurve: 'secp384r1' }).privateJwk as Jwk), kid: 'p384' },
  ES512: { ...(newKeyPair('ec', { namedCurve: 'secp521r1' }).privateJwk as Jwk), kid: 'p521' },
  EdDSA: { ...(newKeyPair('ed25519').privateJwk as Jwk), kid: 'ed25519' },
  HS256: { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: 'hmac' },
};
const PS256_KEY = { ...(KEYS.RS256 as Jwk), kid: 'rsa-pss' };
const ED448 = { ...(newKeyPair('ed448').privateJwk as Jwk), kid: 'ed448' };
const K1 = { ...(newKeyPair('ec', { namedCurve: 'secp256k1' }).privateJwk as Jwk), kid: 'k1' };
const pub = (jwk: Jwk) => (jwk.kty === 'oct' ? jwk : toPublicJwk(jwk));
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A JWT made by jose (the npm library), an implementation other than keymint's signer. */
async function joseJwt(
  alg: string,
  jwk: Jwk,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid: jwk.kid as string, typ: 'JWT', ...header })
    .sign(await importJWK(jwk as never, alg));
}

/** A JWS made with Node's OpenSSL, for the algorithms jose 6 dropped. */
function nodeJws(alg: 'ES256K' | 'EdDSA', jwk: Jwk, payload: string): string {
  const input = `${b64(JSON.stringify({ alg, kid: jwk.kid }))}.${b64(payload)}`;
  const key = { key: jwk as JsonWebKey, format: 'jwk' as const };
  const signature =
    alg === 'EdDSA'
      ? nodeSign(null, Buffer.from(input), key)
      : nodeSign('sha256', Buffer.from(input), { ...key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64(signature)}`;
}

function tamper(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  return `${h}.${b64(JSON.stringify({ ...claims, sub: 'mallory' }))}.${s}`;
}

describe('verifyToken: tokens made by jose, every algorithm jose has', () => {
  it.each(Object.entries(KEYS))('%s: valid, with the claims', async (alg, jwk) => {
    const token = await joseJwt(alg, jwk, { sub: 'alice', exp: now() + 60 });
    const result = await verifyToken(token, pub(jwk));
    expect(result.alg).toBe(alg);
    expect(result.claims).toMatchObject({ sub: 'alice' });
    expect(result.verifier).toBe('jose');
    expect(result.key).toEqual(pub(jwk));
  });

  it.each(Object.entries(KEYS))('%s: a changed payload is ERR_SIGNATURE_INVALID', async (alg, jwk) => {
    await rejection(
      verifyToken(tamper(await joseJwt(alg, jwk, { sub: 'alice' })), pub(jwk)),
      'ERR_SIGNATURE_INVALID',
      /signature does not verify/,
    );
  });

  it('PS256 too', async () => {
    expect((await verifyToken(await joseJwt('PS256', PS256_KEY, { sub: 's' }), pub(PS256_KEY))).alg).toBe('PS256');
  });

  it('accepts the private JWK as the key, using only its public part', async () => {
    const jwk = KEYS.ES256 as Jwk;
    const result = await verifyToken(await joseJwt('ES256', jwk), jwk);
    expect(result.key).not.toHaveProperty('d');
  });
});

describe('verifyToken: what jose 6 no longer does, through Node', () => {
  it.each([
    ['ES256K', K1],
    ['EdDSA', ED448],
  ] as const)('%s verifies, a forgery does not', async (alg, jwk) => {
    const jws = nodeJws(alg, jwk, 'hello');
    const result = await verifyToken(jws, toPublicJwk(jwk));
    expect(result.verifier).toBe('node');
    expect(Buffer.from(result.payload).toString()).toBe('hello');
    expect(result.claims).toBeUndefined();
    const [h, , s] = jws.split('.');
    await rejection(verifyToken(`${h}.${b64('hellO')}.${s}`, toPublicJwk(jwk)), 'ERR_SIGNATURE_INVALID');
  });

  it('verifyCompactJws on Ed448 answers instead of throwing (jose throws a DOMException for it)', async () => {
    const jws = nodeJws('EdDSA', ED448, 'x');
    expect(await verifyCompactJws(jws, toPublicJwk(ED448), 'EdDSA')).toEqual({ valid: true, verifier: 'node' });
  });

  it('the Node path checks the header alg against the expected one', async () => {
    const jws = nodeJws('ES256K', K1, 'x');
    expect((await verifyCompactJws(jws, toPublicJwk(K1), 'ES256K')).valid).toBe(true);
    const [, p, s] = jws.split('.');
    const relabelled = `${b64(JSON.stringify({ alg: 'ES256' }))}.${p}.${s}`;
    expect((await verifyCompactJws(relabelled, toPublicJwk(K1), 'ES256K')).valid).toBe(false);
  });
});

describe('verifyToken: the alg must fit the key', () => {
  it('refuses "none"', async () => {
    const token = `${b64(JSON.stringify({ alg: 'none' }))}.${b64(JSON.stringify({ sub: 'x' }))}.`;
    await rejection(verifyToken(token, pub(KEYS.ES256 as Jwk)), 'ERR_SIGNATURE_INVALID', /not signed/);
  });

  it('refuses HS256 over an RSA public key used as the HMAC secret (alg confusion)', async () => {
    const rsa = pub(KEYS.RS256 as Jwk);
    const input = `${b64(JSON.stringify({ alg: 'HS256' }))}.${b64(JSON.stringify({ sub: 'admin' }))}`;
    const mac = createHmac('sha256', JSON.stringify(rsa)).update(input).digest();
    await rejection(verifyToken(`${input}.${b64(mac)}`, rsa), 'ERR_SIGNATURE_INVALID', /HS256 does not fit/);
  });

  it("refuses an alg other than the key's own alg member", async () => {
    const jwk = { ...(KEYS.RS256 as Jwk), alg: 'RS256' };
    await rejection(verifyToken(await joseJwt('PS256', jwk), pub(jwk)), 'ERR_SIGNATURE_INVALID', /it is for RS256/);
  });

  it('refuses a key with use enc', async () => {
    const jwk = { ...(KEYS.ES256 as Jwk), use: 'enc' };
    await rejection(verifyToken(await joseJwt('ES256', jwk), pub(jwk)), 'ERR_SIGNATURE_INVALID', /encryption key/);
  });

  it('refuses crit extensions', async () => {
    const jwk = KEYS.ES256 as Jwk;
    // jose will not sign an extension it does not know; Node will.
    const input = `${b64(JSON.stringify({ alg: 'ES256', crit: ['urn:example:x'], 'urn:example:x': 1 }))}.${b64('x')}`;
    const signature = nodeSign('sha256', Buffer.from(input), {
      key: jwk as JsonWebKey,
      format: 'jwk',
      dsaEncoding: 'ieee-p1363',
    });
    const jws = `${input}.${b64(signature)}`;
    await rejection(verifyToken(jws, pub(jwk)), 'ERR_SIGNATURE_INVALID', /crit/);
  });
});

describe('verifyToken: JWK Sets and kids', () => {
  const set = { keys: [pub(KEYS.RS256 as Jwk), pub(KEYS.ES256 as Jwk), pub(KEYS.EdDSA as Jwk)] };

  it('picks the key by the kid in the header', async () => {
    const result = await verifyToken(await joseJwt('EdDSA', KEYS.EdDSA as Jwk), set);
    expect(result.key.kid).toBe('ed25519');
  });

  it('an unknown kid is ERR_SIGNATURE_INVALID: not valid for this set', async () => {
    const token = await joseJwt('ES256', KEYS.ES256 as Jwk, {}, { kid: 'gone' });
    await rejection(
      verifyToken(token, set, { source: 'jwks.json' }),
      'ERR_SIGNATURE_INVALID',
      /jwks.json has no key with kid "gone"/,
    );
  });

  it('a single key with another kid is ERR_SIGNATURE_INVALID', async () => {
    await rejection(
      verifyToken(await joseJwt('ES256', KEYS.ES256 as Jwk), { ...pub(KEYS.ES256 as Jwk), kid: 'other' }),
      'ERR_SIGNATURE_INVALID',
      /signed by key "p256"/,
    );
  });

  it('without a kid, tries the keys that fit the alg', async () => {
    const token = await new SignJWT({ sub: 's' })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(await importJWK(KEYS.ES256 as never, 'ES256'));
    expect((await verifyToken(token, set)).key.kid).toBe('p256');
    const other = { keys: [pub(KEYS.RS256 as Jwk), { ...pub(KEYS.ES384 as Jwk) }] };
    await rejection(verifyToken(token, other), 'ERR_SIGNATURE_INVALID', /does not fit any key/);
  });
});

describe('verifyToken: exp and nbf (RFC 7519 §4.1.4, §4.1.5)', () => {
  const jwk = KEYS.ES256 as Jwk;
  it('refuses an expired token, beyond the leeway', async () => {
    expect(DEFAULT_LEEWAY).toBe(60);
    const token = await joseJwt('ES256', jwk, { exp: now() - 120 });
    await rejection(verifyToken(token, pub(jwk)), 'ERR_SIGNATURE_INVALID', /expired at/);
    expect((await verifyToken(token, pub(jwk), { leeway: 300 })).claims?.exp).toBeTypeOf('number');
  });

  it('accepts a token that expired within the leeway', async () => {
    await expect(verifyToken(await joseJwt('ES256', jwk, { exp: now() - 10 }), pub(jwk))).resolves.toBeDefined();
    await rejection(
      verifyToken(await joseJwt('ES256', jwk, { exp: now() - 10 }), pub(jwk), { leeway: 0 }),
      'ERR_SIGNATURE_INVALID',
    );
  });

  it('refuses a token not valid yet', async () => {
    await rejection(
      verifyToken(await joseJwt('ES256', jwk, { nbf: now() + 3600 }), pub(jwk)),
      'ERR_SIGNATURE_INVALID',
      /not valid before/,
    );
    await expect(verifyToken(await joseJwt('ES256', jwk, { nbf: now() + 30 }), pub(jwk))).resolves.toBeDefined();
  });

  it('refuses an exp that is not a number', async () => {
    await rejection(
      verifyToken(await joseJwt('ES256', jwk, { exp: 'tomorrow' }), pub(jwk)),
      'ERR_SIGNATURE_INVALID',
      /"exp" claim is not a number/,
    );
  });

  it('checks a JSON payload with registered claims even without typ, and leaves a plain JWS alone', async () => {
    const key = await importJWK(jwk as never, 'ES256');
    const untyped = await new CompactSign(new TextEncoder().encode(JSON.stringify({ exp: now() - 3600 })))
      .setProtectedHeader({ alg: 'ES256' })
      .sign(key);
    await rejection(verifyToken(untyped, pub(jwk)), 'ERR_SIGNATURE_INVALID', /expired/);
    const plain = await new CompactSign(new TextEncoder().encode('{"greeting":"hi"}'))
      .setProtectedHeader({ alg: 'ES256' })
      .sign(key);
    expect((await verifyToken(plain, pub(jwk))).claims).toBeUndefined();
  });
});

describe('decodeCompactJws', () => {
  it.each([
    ['five parts (a JWE)', 'a.b.c.d.e', /five parts/],
    ['one part', 'abc', /1 dot-separated part/],
    ['a part that is not base64url', 'a.b+c.d', /not base64url/],
    ['a header that is not JSON', `${b64('nope')}.${b64('x')}.AA`, /header/],
    ['an empty header', '.abc.def', /header is empty/],
  ])('refuses %s with ERR_INPUT_INVALID', (_name, token, message) => {
    thrown(() => decodeCompactJws(token), 'ERR_INPUT_INVALID', message);
  });
});

import { sign as nodeSign, type JsonWebKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asCommandLine, rejection, thrown, newKeyPair } from '@keymint/test-kit';
import { KeymintError } from '../src/errors.js';
import { parseJsonObject, toPublicJwk, type Jwk } from '../src/jwk.js';
import { MAX_NUMERIC_DATE, formatNumericDate, jwtClaims } from '../src/jws.js';
import { verifyToken } from '../src/verify.js';

const KEY = {
  ...(newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk),
  kid: 'k',
};
const PUBLIC = toPublicJwk(KEY);
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A validly signed ES256 JWS over exactly these payload bytes, made with Node's OpenSSL; no typ unless given. */
function signed(payload: string | Uint8Array, header: Record<string, unknown> = {}): string {
  const input = `${b64(JSON.stringify({ alg: 'ES256', kid: 'k', ...header }))}.${b64(payload)}`;
  return `${input}.${b64(nodeSign('sha256', Buffer.from(input), { key: KEY as JsonWebKey, format: 'jwk', dsaEncoding: 'ieee-p1363' }))}`;
}

async function outcome(token: string): Promise<string> {
  try {
    await verifyToken(token, PUBLIC);
    return 'valid';
  } catch (error) {
    if (!(error instanceof KeymintError)) throw error;
    expect(error.message).not.toMatch(/\n/);
    return error.code;
  }
}

describe('time claims from a validly signed token (issue 9, class 6)', () => {
  it.each([
    ['exp 1e300 (far future)', '{"exp":1e300}', 'valid'],
    ['exp 1e13 (beyond what a Date can hold)', '{"exp":10000000000000}', 'valid'],
    ['exp -1e300', '{"exp":-1e300}', 'ERR_SIGNATURE_INVALID'],
    ['exp -5', '{"exp":-5}', 'ERR_SIGNATURE_INVALID'],
    ['exp 1.5 s after now, not an integer', `{"exp":${now() + 1.5}}`, 'valid'],
    ['nbf 1e300', '{"nbf":1e300}', 'ERR_SIGNATURE_INVALID'],
    ['nbf -1e300', '{"nbf":-1e300}', 'valid'],
    ['iat 1e300', '{"iat":1e300}', 'valid'],
    ['exp 1e400 (Infinity to JSON.parse)', '{"exp":1e400}', 'ERR_SIGNATURE_INVALID'],
    ['exp a string', '{"exp":"tomorrow"}', 'ERR_SIGNATURE_INVALID'],
  ])('%s: a clean verdict', async (_name, payload, verdict) => {
    expect(await outcome(signed(payload))).toBe(verdict);
  });

  it('names far dates in messages without failing', async () => {
    const error = await rejection(verifyToken(signed('{"exp":-1e300}'), PUBLIC));
    expect(error.message).toMatch(/expired at -1e\+300 s from 1970 \(beyond the dates an ISO 8601 time can show\)/);
    expect(formatNumericDate(MAX_NUMERIC_DATE)).toBe('9999-12-31T23:59:59Z');
    expect(formatNumericDate(0.5)).toBe('1970-01-01T00:00:00.500Z');
  });

  it('checks exp and nbf of any JSON object payload that carries them: no typ needed, a byte order mark changes nothing', async () => {
    const expired = `{"sub":"a","exp":${now() - 3600}}`;
    expect(await outcome(signed(expired))).toBe('ERR_SIGNATURE_INVALID');
    expect(await outcome(signed(`\uFEFF${expired}`))).toBe('ERR_SIGNATURE_INVALID');
    expect(await outcome(signed(`\uFEFF  ${expired}`, { typ: 'JWT' }))).toBe('ERR_SIGNATURE_INVALID');
    const result = await verifyToken(signed(`\uFEFF{"sub":"a","exp":${now() + 60}}`), PUBLIC);
    expect(result.claims).toMatchObject({ sub: 'a' });
    // Not JSON at all: a plain JWS, whose payload is not claims.
    expect((await verifyToken(signed('{"exp": not json'), PUBLIC)).claims).toBeUndefined();
  });

  it('refuses claims or headers that name a member twice, whichever one a parser would keep', async () => {
    const later = now() + 3600;
    for (const payload of [`{"exp":1,"exp":${later}}`, `{"exp":${later},"exp":1}`, `{"sub":"a","\\u0073ub":"b"}`]) {
      expect(await outcome(signed(payload))).toBe('ERR_INPUT_INVALID');
    }
    const input = `${b64('{"alg":"ES256","alg":"none"}')}.${b64('{}')}`;
    expect(await outcome(`${input}.${b64('x')}`)).toBe('ERR_INPUT_INVALID');
    // The same name in two different objects is not a duplicate.
    expect(await outcome(signed(`{"a":{"x":1},"b":{"x":2},"exp":${later}}`))).toBe('valid');
  });

  it('jwt refuses lifetimes that put exp or nbf beyond the dates verify can show', () => {
    const iat = now();
    expect(jwtClaims({ expiresIn: MAX_NUMERIC_DATE - iat - 10 }).exp).toBe(MAX_NUMERIC_DATE - 10);
    const error = thrown(() => jwtClaims({ expiresIn: 999_999_999 * 86_400 }));
    expect(error).toMatchObject({ code: 'ERR_PARAM_INVALID', param: 'exp' });
    expect(asCommandLine(error)).toMatch(/^--exp 86399999913600 s puts the token's exp after 9999-12-31T23:59:59Z/);
    expect(thrown(() => jwtClaims({ notBefore: MAX_NUMERIC_DATE })).code).toBe('ERR_PARAM_INVALID');
  });
});

describe(`numbers in claims (10000 cases)`, () => {
  it('any exp, nbf or iat a JSON number can hold gives a verdict or a typed refusal, never anything else', async () => {
    const number = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(1e300, -1e300, 8.64e12, 8.64e12 + 1, -8.64e12 - 1, MAX_NUMERIC_DATE + 1, 0, -0),
    );
    const claims = fc.record({ exp: number, nbf: number, iat: number }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(claims, async (c) => {
        // JSON cannot write NaN or Infinity; such values reach a verifier only as 1e400 and the like.
        const text = JSON.stringify(c, (_k, v: unknown) =>
          typeof v === 'number' && !Number.isFinite(v) ? '__inf__' : v,
        ).replace(/"__inf__"/g, '1e400');
        expect(['valid', 'ERR_SIGNATURE_INVALID']).toContain(await outcome(signed(text)));
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('parseJsonObject and duplicate members', () => {
  it('refuses a member named twice at any depth, and keeps escapes apart from the names they spell', () => {
    expect(thrown(() => parseJsonObject('{"kty":"RSA","e":"AQAB","e":"AQ"}', 'key.json')).message).toBe(
      'key.json names the member "e" twice: it is ambiguous, so keymint refuses it',
    );
    expect(thrown(() => parseJsonObject('{"keys":[{"kty":"EC","kty":"RSA"}]}', 'set')).code).toBe('ERR_INPUT_INVALID');
    expect(parseJsonObject('{"a":"\\"a\\"","b":["a","a"],"c":{"a":1}}', 's')).toEqual({
      a: '"a"',
      b: ['a', 'a'],
      c: { a: 1 },
    });
  });
});

import { createHash, createPrivateKey, createPublicKey, randomBytes, type JsonWebKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asCommandLine, rejection, thrown, newKeyPair } from '@keymint/test-kit';
import { KeymintError } from '../src/errors.js';
import { checkJwk, toPublicJwk, type Jwk } from '../src/jwk.js';
import { parseKeyDocument } from '../src/key-document.js';
import { publicOf } from '../src/open-key.js';
import { verifyToken } from '../src/verify.js';
import { hostileRsaJwk } from '../src/testing/hostile-keys.js';

function b64(value: Uint8Array | bigint): string {
  if (typeof value !== 'bigint') return Buffer.from(value).toString('base64url');
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
}
const bytesOf = (value: unknown) => Buffer.from(value as string, 'base64url');
const big = (value: unknown) => BigInt(`0x${bytesOf(value).toString('hex') || '0'}`);

const privateJwk = (type: 'ec' | 'rsa' | 'ed25519' | 'ed448' | 'x25519' | 'x448', options: object = {}) =>
  newKeyPair(type as 'ec', options as { namedCurve: string }).privateJwk as Jwk;

const KEYS: Record<string, Jwk> = {
  'P-256': privateJwk('ec', { namedCurve: 'prime256v1' }),
  'P-384': privateJwk('ec', { namedCurve: 'secp384r1' }),
  'P-521': privateJwk('ec', { namedCurve: 'secp521r1' }),
  secp256k1: privateJwk('ec', { namedCurve: 'secp256k1' }),
  Ed25519: privateJwk('ed25519'),
  Ed448: privateJwk('ed448'),
  X25519: privateJwk('x25519'),
  X448: privateJwk('x448'),
  RSA: privateJwk('rsa', { modulusLength: 2048 }),
};
const RSA = KEYS.RSA as Jwk;

/** An odd number of exactly `bits` bits, as an RSA modulus looks from outside. */
function oddModulus(bits: number): Buffer {
  const bytes = randomBytes(Math.ceil(bits / 8));
  const top = bits % 8 === 0 ? 8 : bits % 8;
  bytes[0] = ((bytes[0] as number) & ((1 << top) - 1)) | (1 << (top - 1));
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 1;
  return bytes;
}

function refusal(jwk: Jwk, options: { insecure?: boolean } = {}): string {
  try {
    checkJwk(jwk, 'key.json', options);
  } catch (error) {
    expect(error).toBeInstanceOf(KeymintError);
    expect((error as KeymintError).code).toBe('ERR_INPUT_INVALID');
    expect((error as KeymintError).message).not.toMatch(/\n/);
    return asCommandLine(error as KeymintError);
  }
  return 'accepted';
}

describe('every key read from outside is a real, safe key (issue 9, class 2)', () => {
  it('accepts real keys of every curve and RSA, private and public', () => {
    for (const jwk of Object.values(KEYS)) {
      expect(refusal(jwk)).toBe('accepted');
      expect(refusal(toPublicJwk(jwk))).toBe('accepted');
    }
  });

  it.each([
    ['e = 1 (any signature "verifies")', { ...toPublicJwk(RSA), e: 'AQ' }],
    ['e = 2 (even)', { ...toPublicJwk(RSA), e: 'Ag' }],
    ['e = 0', { ...toPublicJwk(RSA), e: 'AA' }],
    ['e = 65536 (even)', { ...toPublicJwk(RSA), e: b64(65536n) }],
    ['e of 2^256 + 1 (beyond FIPS 186-5)', { ...toPublicJwk(RSA), e: b64((1n << 256n) + 1n) }],
  ])('refuses an RSA exponent that is not odd and from 3 to 2^256: %s', (_name, jwk) => {
    expect(refusal(jwk as Jwk)).toMatch(/public exponent "e" is not an odd number from 3 to 2\^256/);
  });

  it('accepts e = 3 and e = 65537, and refuses an even modulus', () => {
    expect(refusal({ ...toPublicJwk(RSA), e: 'Aw' })).toBe('accepted');
    expect(refusal({ ...toPublicJwk(RSA), e: 'AQAB' })).toBe('accepted');
    const even = bytesOf(RSA.n);
    even[even.length - 1] = (even[even.length - 1] as number) & 0xfe;
    expect(refusal({ ...toPublicJwk(RSA), n: b64(even) })).toMatch(/modulus "n" is even/);
  });

  it('takes RSA moduli of 2048 to 16384 bits, down to 512 only with insecure', () => {
    const withBits = (bits: number) => ({ kty: 'RSA', n: b64(oddModulus(bits)), e: 'AQAB' });
    expect(refusal(withBits(2048))).toBe('accepted');
    expect(refusal(withBits(16384))).toBe('accepted');
    expect(refusal(withBits(2047))).toMatch(
      /modulus is 2047 bits long: keymint accepts 2048 to 16384 bits \(down to 512 only with --insecure\)/,
    );
    expect(refusal(withBits(1024), { insecure: true })).toBe('accepted');
    expect(refusal(withBits(512), { insecure: true })).toBe('accepted');
    expect(refusal(withBits(511), { insecure: true })).toMatch(/511 bits long: keymint accepts 512 to 16384 bits$/);
    expect(refusal(withBits(16385))).toMatch(/16385 bits long/);
  });

  it('refuses a 65536-bit RSA private key at once, before any RSA operation', () => {
    const huge = hostileRsaJwk(65536);
    const started = performance.now();
    expect(refusal(huge)).toMatch(/6553[56] bits long/);
    // Generous: the cheap checks take microseconds; an RSA operation on this key takes minutes.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('refuses RSA private members longer than the modulus, and primes that do not make it', () => {
    expect(refusal({ ...RSA, d: b64(Buffer.alloc(257, 1)) })).toMatch(/"d" is longer than its modulus/);
    expect(refusal({ ...RSA, p: RSA.q, q: b64(big(RSA.q) + 2n) })).toMatch(/"p" and "q" do not multiply/);
    expect(refusal({ ...RSA, oth: [] })).toMatch(/multi-prime/);
  });

  it('refuses EC and OKP members of the wrong length, curves of the other type and points off the curve', () => {
    const p256 = KEYS['P-256'] as Jwk;
    expect(refusal({ ...toPublicJwk(p256), x: b64(bytesOf(p256.x).subarray(1)) })).toMatch(
      /"x" is 31 bytes long, and a P-256 key's is 32/,
    );
    expect(refusal({ ...toPublicJwk(p256), y: b64(Buffer.concat([Buffer.of(0), bytesOf(p256.y)])) })).toMatch(
      /"y" is 33 bytes long/,
    );
    expect(refusal({ ...toPublicJwk(p256), crv: 'Ed25519' })).toMatch(/"crv" "Ed25519" is not a curve for EC keys/);
    expect(refusal({ ...toPublicJwk(KEYS.Ed25519 as Jwk), crv: 'P-256' })).toMatch(
      /"crv" "P-256" is not a curve for OKP keys/,
    );
    // Padded to 32 bytes: one y in 256 has a leading zero byte, which would make this a length test.
    const off = {
      ...toPublicJwk(p256),
      y: b64(Buffer.from(((big(p256.y) + 1n) % (1n << 256n)).toString(16).padStart(64, '0'), 'hex')),
    };
    expect(refusal(off)).toMatch(/the point is not on the curve/);
    for (const [crv, bytes] of [
      ['Ed25519', 32],
      ['Ed448', 57],
      ['X25519', 32],
      ['X448', 56],
    ] as const) {
      const key = KEYS[crv] as Jwk;
      expect(bytesOf(key.x)).toHaveLength(bytes);
      expect(refusal({ ...toPublicJwk(key), x: b64(randomBytes(bytes + 1)) })).toMatch(
        new RegExp(`"x" is ${bytes + 1} bytes long, and a ${crv} key's is ${bytes}`),
      );
      expect(refusal({ ...key, d: b64(randomBytes(bytes - 1)) })).toMatch(new RegExp(`"d" is ${bytes - 1} bytes long`));
    }
  });

  it('refuses an oct key whose "k" is empty', () => {
    expect(refusal({ kty: 'oct', k: '' })).toMatch(/"k" is missing or empty/);
    expect(refusal({ kty: 'oct', k: 'AA' })).toBe('accepted');
  });

  it('names the key type in its message only when keymint knows it (a hostile kty is not echoed)', () => {
    const key = { ...(KEYS['P-256'] as Jwk), x: ` ${KEYS['P-256']?.x as string}` };
    expect(thrown(() => checkJwk(key, 'k.json')).message).toBe('k.json holds an invalid EC key: "x" is not base64url');
    expect(thrown(() => checkJwk({ ...key, kty: '\nEC\u001b[2J' }, 'k.json')).message).toBe(
      'k.json holds an invalid key: "x" is not base64url',
    );
  });

  it('refuses a token forged for an RSA key with e = 1, which OpenSSL alone would verify', async () => {
    const n = oddModulus(2048);
    const weak: Jwk = { kty: 'RSA', kid: 'weak', alg: 'RS256', n: b64(n), e: 'AQ' };
    // With e = 1 the "signature" is the padded hash itself: RFC 8017 §9.2 EMSA-PKCS1-v1_5.
    const signingInput = `${b64(Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'weak' })))}.${b64(Buffer.from('{"sub":"admin"}'))}`;
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      createHash('sha256').update(signingInput).digest(),
    ]);
    const em = Buffer.concat([
      Buffer.of(0, 1),
      Buffer.alloc(256 - 3 - digestInfo.length, 0xff),
      Buffer.of(0),
      digestInfo,
    ]);
    const token = `${signingInput}.${b64(em)}`;
    expect(thrown(() => parseKeyDocument(JSON.stringify(weak), 'weak.json')).code).toBe('ERR_INPUT_INVALID');
    // The API takes a JWK directly too: verifyToken checks the key itself.
    await rejection(verifyToken(token, weak), 'ERR_INPUT_INVALID');
  });
});

describe('the public form is built from known public members', () => {
  it('keeps the public members of its key type and the metadata, and drops any other member', () => {
    const ec = {
      ...(KEYS['P-256'] as Jwk),
      kid: 'k1',
      use: 'sig',
      alg: 'ES256',
      x5c: ['AA'],
      priv: 'secret',
      ext: true,
    };
    expect(toPublicJwk(ec)).toEqual({
      kty: 'EC',
      kid: 'k1',
      use: 'sig',
      alg: 'ES256',
      crv: 'P-256',
      x: ec.x,
      y: ec.y,
      x5c: ['AA'],
    });
    expect(Object.keys(toPublicJwk(RSA)).sort()).toEqual(['e', 'kty', 'n']);
  });

  it('refuses a key type whose public members keymint does not know (the draft AKP), in public and in sets', async () => {
    const akp = { kty: 'AKP', alg: 'ML-DSA-44', pub: b64(randomBytes(32)), priv: b64(randomBytes(32)) };
    expect(thrown(() => toPublicJwk(akp))).toMatchObject({
      code: 'ERR_ALG_NOT_SUPPORTED',
      message: expect.stringMatching(/key type "AKP"/),
    });
    for (const text of [JSON.stringify(akp), JSON.stringify({ keys: [akp] })]) {
      await rejection(publicOf(parseKeyDocument(text, 'akp.json'), { source: 'akp.json' }), 'ERR_ALG_NOT_SUPPORTED');
    }
  });
});

/** Short Weierstrass curves y^2 = x^3 + ax + b over p: an on-curve check that owes nothing to OpenSSL. */
const CURVES: Record<string, { p: bigint; a: bigint; b: bigint }> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: -3n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  'P-384': {
    p: (1n << 384n) - (1n << 128n) - (1n << 96n) + (1n << 32n) - 1n,
    a: -3n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    a: -3n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
  secp256k1: { p: (1n << 256n) - (1n << 32n) - 977n, a: 0n, b: 7n },
};
const mod = (v: bigint, p: bigint) => ((v % p) + p) % p;
function onCurve(jwk: Jwk): boolean {
  const c = CURVES[jwk.crv as string] as (typeof CURVES)[string];
  const x = big(jwk.x);
  const y = big(jwk.y);
  return x < c.p && y < c.p && mod(y * y, c.p) === mod(x * x * x + c.a * x + c.b, c.p);
}

const OKP_BYTES: Record<string, number> = { Ed25519: 32, Ed448: 57, X25519: 32, X448: 56 };

/** What keymint promises of any key it accepted, checked here without keymint's code. */
function expectSafe(jwk: Jwk): void {
  switch (jwk.kty) {
    case 'RSA': {
      const e = big(jwk.e);
      const bits = big(jwk.n).toString(2).length;
      expect(e >= 3n && e % 2n === 1n && e < 1n << 256n, 'odd e from 3 to 2^256').toBe(true);
      expect(big(jwk.n) % 2n, 'odd n').toBe(1n);
      expect(bits >= 2048 && bits <= 16384, `n of ${bits} bits`).toBe(true);
      break;
    }
    case 'EC':
      expect(Object.keys(CURVES)).toContain(jwk.crv);
      expect(onCurve(jwk), 'on the curve').toBe(true);
      if (jwk.d !== undefined) {
        const derived = createPublicKey(createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })).export({
          format: 'jwk',
        });
        expect([derived.x, derived.y]).toEqual([jwk.x, jwk.y]);
      }
      break;
    case 'OKP':
      expect(Object.keys(OKP_BYTES)).toContain(jwk.crv);
      expect(bytesOf(jwk.x).length).toBe(OKP_BYTES[jwk.crv as string]);
      if (jwk.d !== undefined) expect(bytesOf(jwk.d).length).toBe(OKP_BYTES[jwk.crv as string]);
      break;
    case 'oct':
      expect(bytesOf(jwk.k).length).toBeGreaterThan(0);
      break;
  }
}

const PROPERTY_RUNS = 10_000;

/** Base64url of random bytes near a length, or of a number. */
const material = fc.oneof(
  fc
    .nat({ max: 140 })
    .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
    .map(b64),
  fc.bigInt({ min: 0n, max: (1n << 300n) - 1n }).map(b64),
  fc.constantFrom('', 'AQ', 'Ag', 'Aw', 'AQAB', 'AQAA', '_w'),
  fc.integer({ min: 8, max: 20_000 }).map((bits) => b64(oddModulus(bits))),
  fc
    .integer({ min: 8, max: 4096 })
    .map((bits) => b64(Buffer.from(oddModulus(bits)).map((v, i, a) => (i === a.length - 1 ? v & 0xfe : v)))),
);
const MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;
const mutation = fc.oneof(
  fc.record({ member: fc.constantFrom(...MEMBERS), value: material }),
  fc.record({
    member: fc.constantFrom('kty', 'crv'),
    value: fc.constantFrom(
      'EC',
      'OKP',
      'RSA',
      'oct',
      'AKP',
      'P-256',
      'P-521',
      'Ed25519',
      'X448',
      'secp256k1',
      'P-999',
      'toString',
      '',
    ),
  }),
  fc.record({ member: fc.constantFrom(...MEMBERS), value: fc.constant(undefined) }),
  fc.record({ member: fc.constantFrom('x', 'y', 'n', 'd', 'k'), flip: fc.nat() }),
);
const baseKey = fc.oneof(
  fc.constantFrom(...Object.values(KEYS)),
  fc.constantFrom(...Object.values(KEYS)).map((k) => (k.kty === 'oct' ? k : toPublicJwk(k))),
  fc.constant<Jwk>({ kty: 'oct', k: b64(randomBytes(32)) }),
);
const candidate = fc.tuple(baseKey, fc.array(mutation, { maxLength: 3 })).map(([base, edits]) => {
  const jwk: Jwk = { ...base };
  for (const edit of edits) {
    if ('flip' in edit) {
      const bytes = bytesOf(jwk[edit.member] ?? '');
      if (bytes.length > 0)
        bytes[edit.flip % bytes.length] = (bytes[edit.flip % bytes.length] as number) ^ (1 << (edit.flip % 8));
      jwk[edit.member] = b64(bytes);
    } else if (edit.value === undefined) delete jwk[edit.member];
    else jwk[edit.member] = edit.value;
  }
  if (typeof jwk.kty !== 'string') jwk.kty = 'EC';
  return jwk;
});

describe(`random and mutated keys (${PROPERTY_RUNS} cases)`, () => {
  it('are refused with ERR_INPUT_INVALID, or accepted only when they keep every rule, each within a bounded time', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(candidate, (jwk) => {
        const started = performance.now();
        const outcome = refusal(jwk);
        // Generous: the slowest accepted key (a real RSA key up to 16384 bits) costs far less.
        expect(performance.now() - started).toBeLessThan(2000);
        if (outcome === 'accepted') expectSafe(jwk);
        const kind = outcome === 'accepted' ? `accepted ${jwk.kty}` : 'refused';
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      }),
      { numRuns: PROPERTY_RUNS },
    );
    // Both sides, for every key type, or the property says little.
    expect(outcomes.get('refused') ?? 0).toBeGreaterThan(1000);
    for (const kty of ['EC', 'OKP', 'RSA', 'oct'])
      expect(outcomes.get(`accepted ${kty}`) ?? 0, kty).toBeGreaterThan(50);
  });
});

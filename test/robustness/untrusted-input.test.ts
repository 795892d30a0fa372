import { createHash, createPublicKey, randomBytes, sign as nodeSign, type JsonWebKey } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostileRsaJwk } from '@keymint/core/testing';
import { describe, expect, it } from 'vitest';
import { expectOk, newKeyPair } from '@keymint/test-kit';
import { expectFailure, keymint, keymintInPty, tempDir, type Jwk } from '../helpers.js';
import { jwkFile } from '../toolbox/helpers.js';

/**
 * Issue 9, classes 2 and 6, through the built CLI: keys that are not real, safe keys are refused
 * before use; numbers and text from a signed token or a key set reach the user as a clean verdict
 * and as text that cannot drive the terminal.
 */

const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** An odd modulus of exactly `bits` bits. */
function oddModulus(bits: number): Buffer {
  const bytes = randomBytes(bits / 8);
  bytes[0] = (bytes[0] as number) | 0x80;
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 1;
  return bytes;
}

const EC = newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk;

/** A validly signed ES256 JWS over exactly these payload bytes (Node's OpenSSL, not keymint). */
function signedBy(key: Jwk, payload: string, header: Record<string, unknown> = {}): string {
  const input = `${b64(JSON.stringify({ alg: 'ES256', kid: key.kid, ...header }))}.${b64(payload)}`;
  return `${input}.${b64(nodeSign('sha256', Buffer.from(input), { key: key as JsonWebKey, format: 'jwk', dsaEncoding: 'ieee-p1363' }))}`;
}

const HIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('keys from outside are real, safe keys before use (class 2)', () => {
  it('verify refuses an RSA key with e = 1, for which a forged token "verifies"', async () => {
    const dir = tempDir();
    const n = oddModulus(2048);
    jwkFile(dir, 'weak.json', { kty: 'RSA', kid: 'weak', alg: 'RS256', n: b64(n), e: 'AQ' });
    jwkFile(dir, 'weak-set.json', { keys: [{ kty: 'RSA', kid: 'weak', alg: 'RS256', n: b64(n), e: 'AQ' }] });
    // e = 1: the signature is the padded hash itself (RFC 8017 §9.2), no private key needed.
    const input = `${b64(JSON.stringify({ alg: 'RS256', kid: 'weak', typ: 'JWT' }))}.${b64(JSON.stringify({ sub: 'admin', exp: now() + 600 }))}`;
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      createHash('sha256').update(input).digest(),
    ]);
    const forged = `${input}.${b64(Buffer.concat([Buffer.of(0, 1), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.of(0), digestInfo]))}`;
    for (const key of ['weak.json', 'weak-set.json']) {
      await expectFailure(dir, ['verify', '--key', key, forged], 9, [
        /invalid RSA key: its public exponent "e" is not an odd number from 3 to 2\^256/,
      ]);
    }
  });

  it('thumbprint refuses a 65536-bit RSA private key at once', async () => {
    const dir = tempDir();
    jwkFile(dir, 'huge.json', hostileRsaJwk(65536));
    const started = performance.now();
    await expectFailure(dir, ['thumbprint', 'huge.json'], 9, [
      /huge\.json holds an invalid RSA key: its modulus is 6553[56] bits long: keymint accepts 2048 to 16384 bits/,
    ]);
    // Generous (a run of keymint takes ~0.1 s); before, this key kept thumbprint busy for minutes.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('public and keyset add refuse a key type whose public form keymint cannot compute (the draft AKP)', async () => {
    const dir = tempDir();
    jwkFile(dir, 'akp.json', {
      kty: 'AKP',
      alg: 'ML-DSA-44',
      kid: 'pq',
      pub: b64(randomBytes(1312)),
      priv: b64(randomBytes(32)),
    });
    await expectFailure(dir, ['public', 'akp.json'], 4, [/keymint does not know the key type "AKP"/]);
    await expectFailure(dir, ['thumbprint', 'akp.json'], 4, [/key type "AKP"/]);
    await expectFailure(dir, ['keyset', 'add', 'jwks.json', 'akp.json'], 4, [/key type "AKP"/]);
    expect(existsSync(join(dir, 'jwks.json'))).toBe(false);
  });

  it('public drops members it does not know instead of copying them', async () => {
    const dir = tempDir();
    jwkFile(dir, 'ec.json', { ...EC, kid: 'ec', 'x-private-seed': 'c2VjcmV0' });
    const result = expectOk(await keymint(['public', 'ec.json'], { cwd: dir }));
    expect(JSON.parse(result.stdout)).toEqual({ kty: 'EC', kid: 'ec', crv: 'P-256', x: EC.x, y: EC.y });
  });

  it('refuses points off the curve and wrong lengths in any key input: a key file, a reference, a PEM', async () => {
    const dir = tempDir();
    const off = {
      kty: 'EC',
      crv: 'P-256',
      x: EC.x,
      y: b64(Buffer.from(EC.y as string, 'base64url').map((v, i) => (i === 31 ? v ^ 1 : v))),
    };
    jwkFile(dir, 'off.json', off);
    await expectFailure(dir, ['pem', 'off.json'], 9, [
      /off\.json holds an invalid EC key: OpenSSL does not accept it \(crv "P-256"\): the point is not on the curve/,
    ]);
    jwkFile(dir, 'ref.json', {
      type: 'keymint-key-reference',
      version: 1,
      backend: 'keychain',
      location: { service: 's', account: 'a' },
      jwk: { kty: 'OKP', crv: 'Ed25519', x: b64(randomBytes(31)) },
    });
    await expectFailure(dir, ['public', 'ref.json'], 9, [
      /ref\.json holds an invalid OKP key: its "x" is 31 bytes long, and a Ed25519 key's is 32/,
    ]);
    // A PEM with e = 1: valid DER, refused as any key from outside is.
    const weak = createPublicKey({
      key: { kty: 'RSA', n: b64(oddModulus(2048)), e: 'AQ' } as JsonWebKey,
      format: 'jwk',
    });
    writeFileSync(join(dir, 'weak.pem'), weak.export({ type: 'spki', format: 'pem' }));
    await expectFailure(dir, ['create', '--from-pem', 'weak.pem', 'w.pub.json', 'w.json'], 9, [
      /weak\.pem holds an invalid RSA key: its public exponent "e"/,
    ]);
  });
});

describe('numbers from a signed token give a clean verdict (class 6)', () => {
  function setup(): { dir: string; key: Jwk } {
    const dir = tempDir();
    const key = { ...EC, kid: 'ec' };
    jwkFile(dir, 'key.pub.json', { kty: 'EC', kid: 'ec', crv: 'P-256', x: EC.x, y: EC.y });
    return { dir, key };
  }

  it.each([
    [
      'exp 1e300',
      '{"sub":"a","exp":1e300}',
      0,
      /expires at 1e\+300 s from 1970 \(beyond the dates an ISO 8601 time can show\)/,
    ],
    ['exp 1e13', '{"sub":"a","exp":10000000000000}', 0, /expires at 10000000000000 s from 1970/],
    ['exp -1e300', '{"sub":"a","exp":-1e300}', 18, /expired at -1e\+300 s from 1970/],
    ['nbf 1e13', '{"sub":"a","nbf":10000000000000}', 18, /not valid before 10000000000000 s from 1970/],
    ['exp as a string', '{"sub":"a","exp":"soon"}', 18, /"exp" claim is not a number/],
    ['exp 1e400', '{"sub":"a","exp":1e400}', 18, /"exp" claim is not a number/],
    ['a duplicate exp', `{"sub":"a","exp":1,"exp":${now() + 600}}`, 9, /token payload names the member "exp" twice/],
    [
      'an expired claims set behind a byte order mark, without typ',
      `\uFEFF{"sub":"a","exp":${now() - 3600}}`,
      18,
      /the token expired at/,
    ],
  ])('%s: a clean verdict (exit code, one line), no internal error', async (_name, payload, code, pattern) => {
    const { dir, key } = setup();
    const token = signedBy(key, payload);
    const result = await keymint(['verify', '--key', 'key.pub.json', token], { cwd: dir });
    expect(result.stderr).not.toMatch(/internal error|^\s+at /m);
    if (code === 0) {
      expectOk(result);
      expect(result.stderr).toMatch(pattern);
    } else {
      await expectFailure(dir, ['verify', '--key', 'key.pub.json', token], code, [pattern]);
    }
  });

  it('says a token past exp but within the leeway expired N s ago and was accepted', async () => {
    const { dir, key } = setup();
    const result = expectOk(
      await keymint(['verify', '--key', 'key.pub.json', signedBy(key, `{"sub":"a","exp":${now() - 20}}`)], {
        cwd: dir,
      }),
    );
    expect(result.stderr).toMatch(/The JWT expired (19|20|21|22) s ago, accepted within the 60 s leeway\./);
  });

  it('jwt refuses an --exp that verify could not show', async () => {
    const dir = tempDir();
    jwkFile(dir, 'key.json', { ...EC, kid: 'ec' });
    await expectFailure(
      dir,
      ['jwt', '--key', 'key.json', '--iss', 'a', '--sub', 'a', '--aud', 'b', '--exp', '999999999d'],
      3,
      [/--exp 86399999913600 s puts the token's exp after 9999-12-31T23:59:59Z/],
    );
  });
});

describe('text from input cannot drive the terminal (class 6)', () => {
  const hostile = 'x\u001b]0;owned\u0007\u001b[2J\r\u009b31m\u202eevil';

  it('escapes kids in keyset list and in errors, claims and kids in verify, and file names', async () => {
    const dir = tempDir();
    const key = { ...EC, kid: hostile };
    jwkFile(dir, 'jwks.json', {
      keys: [
        { kty: 'EC', kid: hostile, crv: 'P-256', x: EC.x, y: EC.y },
        { kty: 'EC', kid: 'second\nFAKE  EC  ES256  sig', crv: 'P-256', x: EC.x, y: EC.y },
      ],
    });
    const list = expectOk(await keymint(['keyset', 'list', 'jwks.json'], { cwd: dir }));
    expect(list.stdout).not.toMatch(HIDDEN);
    expect(list.stdout).toContain('x\\u001b]0;owned\\u0007\\u001b[2J\\u000d\\u009b31m\\u202eevil');
    expect(list.stdout.split('\n').filter((l) => l.includes('FAKE'))).toEqual([
      expect.stringMatching(/^second\\u000aFAKE/),
    ]);

    const missing = await keymint(['keyset', 'find', 'jwks.json', '--kid', hostile], { cwd: dir });
    expect(missing.code).toBe(0);
    const notThere = await keymint(['keyset', 'remove', 'jwks.json', '--kid', `${hostile}-2`], { cwd: dir });
    expect(notThere.code).toBe(16);
    expect(notThere.stderr).toMatch(/^keymint: jwks\.json has no key with kid "x\\u001b/);
    expect(notThere.stderr.trimEnd()).not.toMatch(HIDDEN);

    const token = signedBy(key, JSON.stringify({ sub: hostile, exp: now() + 600 }));
    const verified = expectOk(await keymint(['verify', '--key', 'jwks.json', token], { cwd: dir }));
    expect(verified.stderr).toMatch(/key "x\\u001b\]0;owned/);
    expect(verified.stderr.replace(/\n/g, '')).not.toMatch(HIDDEN);
    // Data on stdout goes to a pipe as it is (the terminal case is below).
    expect(JSON.parse(verified.stdout)).toMatchObject({ sub: hostile });
    const json = expectOk(await keymint(['verify', '--json', '--key', 'jwks.json', token], { cwd: dir }));
    expect(json.stdout).not.toMatch(HIDDEN);
    expect(JSON.parse(json.stdout)).toMatchObject({ kid: hostile, claims: { sub: hostile } });

    const badName = `key${hostile}.json`;
    await expectFailure(dir, ['public', badName], 8, [
      /^keymint: key file keyx\\u001b\]0;owned\\u0007\\u001b\[2J\\u000d\\u009b31m\\u202eevil\.json: no such file/,
    ]);
  });

  it('prints a payload as it is to a pipe, and escaped on a terminal', async () => {
    const dir = tempDir();
    jwkFile(dir, 'key.pub.json', { kty: 'EC', kid: 'ec', crv: 'P-256', x: EC.x, y: EC.y });
    const token = signedBy({ ...EC, kid: 'ec' }, `text ${hostile}`);
    const piped = expectOk(await keymint(['verify', '--key', 'key.pub.json', token], { cwd: dir }));
    expect(piped.stdout).toBe(`text ${hostile}\n`);
    const tty = await keymintInPty(['verify', '--key', 'key.pub.json', token], [], { cwd: dir });
    expect(tty.status).toBe(0);
    expect(tty.output).toContain('text x\\u001b]0;owned\\u0007\\u001b[2J\\u000d\\u009b31m\\u202eevil');
    expect(tty.output).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
  });
});

import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactSign, SignJWT, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '@keymint/test-kit';
import { expectFailure, keymint, type Jwk } from '../helpers.js';
import { PASS_FILE, createKey, jwkFile, nodeJwk, ok, sharedDir, type KeyPairFiles } from './helpers.js';

const dir = sharedDir();
const keys: Record<string, KeyPairFiles> = {};
const pw = ['--password-file', PASS_FILE];
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
let token = '';

beforeAll(async () => {
  keys.ec = await createKey(dir, 'ec', ['--kid', 'ec-1']);
  keys.rsa = await createKey(dir, 'rsa', ['--kty', 'RSA', '--kid', 'rsa-1'], { plain: true });
  keys.ed = await createKey(dir, 'ed', ['--kty', 'OKP', '--kid', 'ed-1'], { plain: true });
  keys.hs = await createKey(dir, 'hs', ['--kty', 'oct', '--alg', 'HS256', '--kid', 'hs-1'], { plain: true });
  jwkFile(dir, 'jwks.json', { keys: [keys.rsa?.publicJwk, keys.ec?.publicJwk, keys.ed?.publicJwk] });
  token = (
    await ok(['jwt', '--key', 'ec.json', ...pw, '--iss', 'me', '--sub', 'alice', '--aud', 'api'], { cwd: dir })
  ).stdout.trim();
  writeFileSync(join(dir, 'token.txt'), `${token}\n`);
});

/** A JWT signed by jose (npm), not by keymint. */
async function joseJwt(
  jwk: Jwk,
  alg: string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid: jwk.kid as string, typ: 'JWT', ...header })
    .sign(await importJWK(jwk as never, alg));
}

function tamper(jwt: string): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  return `${h}.${b64(JSON.stringify({ ...claims, sub: 'mallory' }))}.${s}`;
}

const now = () => Math.floor(Date.now() / 1000);
/** A plain private key file made by createKey. */
const privateJwk = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Jwk;

describe('keymint verify: valid tokens, exit 0', () => {
  it('prints the claims of a JWT, checked with the public JWK', async () => {
    const result = await ok(['verify', '--key', 'ec.pub.json', token], { cwd: dir });
    expect(JSON.parse(result.stdout)).toMatchObject({ iss: 'me', sub: 'alice', aud: 'api' });
    expect(result.stderr).toMatch(/The signature is valid: ES256, key "ec-1"\./);
    expect(result.stderr).toMatch(/The JWT expires at \d{4}-\d\d-\d\dT/);
  });

  it('accepts the key as an encrypted private key file, a plain private key and a JWK Set (chosen by kid)', async () => {
    for (const key of [
      ['--key', 'ec.json', ...pw],
      ['--key', 'jwks.json'],
    ]) {
      expect(JSON.parse((await ok(['verify', ...key, token], { cwd: dir })).stdout).sub).toBe('alice');
    }
    const edToken = (
      await ok(['jwt', '--key', 'ed.json', '--iss', 'i', '--sub', 's', '--aud', 'a'], { cwd: dir })
    ).stdout.trim();
    for (const key of ['ed.json', 'ed.pub.json', 'jwks.json'])
      expectOk(await keymint(['verify', '--key', key, edToken], { cwd: dir }));
  });

  it('reads the token from standard input ("-" or nothing) and from a file', async () => {
    for (const args of [['-'], []])
      expectOk(await keymint(['verify', '--key', 'ec.pub.json', ...args], { cwd: dir, input: `${token}\n` }));
    expectOk(await keymint(['verify', '--key', 'ec.pub.json', 'token.txt'], { cwd: dir }));
  });

  it('reads the key from standard input with --key -', async () => {
    expectOk(await keymint(['verify', '--key', '-', token], { cwd: dir, input: JSON.stringify(keys.ec?.publicJwk) }));
  });

  it('verifies JWTs made by jose (npm): RS256, EdDSA, HS256 (with the oct key file)', async () => {
    const [rsaPriv, edPriv, hs] = ['rsa.json', 'ed.json', 'hs.json'].map(privateJwk) as [Jwk, Jwk, Jwk];
    for (const [jwk, alg, keyFile] of [
      [rsaPriv, 'RS256', 'jwks.json'],
      [edPriv, 'EdDSA', 'ed.pub.json'],
      [hs, 'HS256', 'hs.json'],
    ] as const) {
      const jwt = await joseJwt(jwk, alg, { sub: alg, exp: now() + 60 });
      const result = await ok(['verify', '--key', keyFile, jwt], { cwd: dir });
      expect(JSON.parse(result.stdout).sub).toBe(alg);
    }
  });

  it('prints the payload of a plain JWS as it is; --json gives valid, alg, kid, header and payload', async () => {
    writeFileSync(join(dir, 'hello.txt'), 'hello, world');
    const jws = (await ok(['sign', '--key', 'rsa.json', 'hello.txt'], { cwd: dir })).stdout.trim();
    expect((await ok(['verify', '--key', 'rsa.pub.json', jws], { cwd: dir })).stdout).toBe('hello, world\n');
    const out = JSON.parse((await ok(['verify', '--json', '--key', 'jwks.json', jws], { cwd: dir })).stdout) as Record<
      string,
      unknown
    >;
    expect(out).toEqual({
      valid: true,
      alg: 'RS256',
      kid: 'rsa-1',
      header: { alg: 'RS256', kid: 'rsa-1' },
      payload: 'hello, world',
    });
  });

  it('a JWS whose signature a third party (jose) made over a JSON payload without claims is a plain JWS', async () => {
    const jws = await new CompactSign(Buffer.from('{"a":1}'))
      .setProtectedHeader({ alg: 'EdDSA', kid: 'ed-1' })
      .sign(await importJWK(privateJwk('ed.json') as never, 'EdDSA'));
    const out = JSON.parse(
      (await ok(['verify', '--json', '--key', 'ed.pub.json', jws], { cwd: dir })).stdout,
    ) as Record<string, unknown>;
    expect(out.payload).toBe('{"a":1}');
    expect(out).not.toHaveProperty('claims');
  });

  it('allows 60 s of clock skew by default, and --leeway more', async () => {
    const edPriv = privateJwk('ed.json');
    expectOk(
      await keymint(['verify', '--key', 'ed.pub.json', await joseJwt(edPriv, 'EdDSA', { exp: now() - 20 })], {
        cwd: dir,
      }),
    );
    expectOk(
      await keymint(
        ['verify', '--key', 'ed.pub.json', '--leeway', '600', await joseJwt(edPriv, 'EdDSA', { exp: now() - 300 })],
        { cwd: dir },
      ),
    );
  });
});

describe('keymint verify: invalid tokens, exit 18', () => {
  it('a changed payload', async () => {
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', tamper(token)], 18, [
      /the signature does not verify with key "ec-1"/,
    ]);
  });

  it('a token checked with the wrong key of the right type', async () => {
    const other = nodeJwk('EC P-256', { kid: 'ec-1' });
    const { d: _d, ...pub } = other;
    jwkFile(dir, 'other.pub.json', pub);
    await expectFailure(dir, ['verify', '--key', 'other.pub.json', token], 18, [/does not verify/]);
  });

  it('an expired JWT (beyond the leeway), and one not valid yet', async () => {
    const edPriv = privateJwk('ed.json');
    await expectFailure(
      dir,
      ['verify', '--key', 'ed.pub.json', await joseJwt(edPriv, 'EdDSA', { exp: now() - 3600 })],
      18,
      [/the token expired at/],
    );
    await expectFailure(
      dir,
      ['verify', '--key', 'ed.pub.json', '--leeway', '0', await joseJwt(edPriv, 'EdDSA', { exp: now() - 5 })],
      18,
      [/expired/],
    );
    await expectFailure(
      dir,
      ['verify', '--key', 'ed.pub.json', await joseJwt(edPriv, 'EdDSA', { nbf: now() + 3600 })],
      18,
      [/not valid before/],
    );
  });

  it('alg "none"', async () => {
    const unsigned = `${b64(JSON.stringify({ alg: 'none', kid: 'ec-1' }))}.${b64(JSON.stringify({ sub: 'admin' }))}.`;
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', unsigned], 18, [/not signed/]);
  });

  it('HS256 keyed with the RSA public key (alg confusion)', async () => {
    const pub = keys.rsa?.publicJwk as Jwk;
    const input = `${b64(JSON.stringify({ alg: 'HS256', kid: 'rsa-1' }))}.${b64(JSON.stringify({ sub: 'admin' }))}`;
    const forged = `${input}.${b64(createHmac('sha256', JSON.stringify(pub)).update(input).digest())}`;
    await expectFailure(dir, ['verify', '--key', 'rsa.pub.json', forged], 18, [/HS256 does not fit/]);
    await expectFailure(dir, ['verify', '--key', 'jwks.json', forged], 18, [/HS256 does not fit/]);
  });

  it('--json prints the error as JSON, with exit 18', async () => {
    const result = await keymint(['verify', '--json', '--key', 'ec.pub.json', tamper(token)], { cwd: dir });
    expect(result.code).toBe(18);
    expect(JSON.parse(result.stdout)).toEqual({
      error: { code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/does not verify/) },
    });
  });
});

describe('keymint verify: other refusals', () => {
  it('a kid that is not in the set, or not the key given: not valid, exit 18 (a verifier answers 0 or 18)', async () => {
    await expectFailure(
      dir,
      [
        'verify',
        '--key',
        'jwks.json',
        (await ok(['sign', '--key', 'hs.json', 'token.txt'], { cwd: dir })).stdout.trim(),
      ],
      18,
      [/jwks.json has no key with kid "hs-1"/],
    );
    await expectFailure(dir, ['verify', '--key', 'ed.pub.json', token], 18, [
      /the token was signed by key "ec-1", but ed.pub.json is key "ed-1"/,
    ]);
  });

  it('a malformed token: exit 9', async () => {
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', 'a.b.c.d.e'], 9, [/five parts/]);
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', '-'], 9, [/not a compact JWS/], {
      input: 'not-a-token',
    });
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', '-'], 9, [/no token: standard input is empty/], {
      input: '',
    });
  });

  it('a token argument that is neither a token nor a file: exit 8', async () => {
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', 'no-such-file'], 8, [
      /token file no-such-file: no such file/,
    ]);
  });

  it('no --key: exit 2; a missing key file: exit 8; a bad --leeway: exit 3', async () => {
    await expectFailure(dir, ['verify', token], 2, [/verify needs --key FILE/]);
    await expectFailure(dir, ['verify', '--key', 'gone.json', token], 8, [/gone.json: no such file/]);
    await expectFailure(dir, ['verify', '--key', 'ec.pub.json', '--leeway', 'lots', token], 3, [/--leeway "lots"/]);
  });
});

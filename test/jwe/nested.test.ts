import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompactEncrypt, SignJWT, compactDecrypt, importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, readJson, type Jwk } from '../helpers.js';
import { startSoftHsm } from '@keymint/test-kit';
import { ok, sharedDir } from '../toolbox/helpers.js';

/**
 * Nested JWTs (RFC 7519 §5.2, §11.2): `keymint jwt ... --encrypt-to KEY` signs, then encrypts to
 * KEY with cty JWT; `keymint verify --decrypt-with KEY` decrypts, then verifies. Checked against
 * jose both ways, with a recipient key on SoftHSM2, and on every failure path.
 */

const dir = sharedDir();
const softhsm = startSoftHsm(['e2e-nested']);
afterAll(() => softhsm.remove());
const env = { SOFTHSM2_CONF: softhsm.conf };
const CLAIMS = ['--iss', 'https://issuer.example', '--sub', 'alice', '--aud', 'https://rp.example'];
const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8')) as Record<string, unknown>;

beforeAll(async () => {
  await ok(
    ['create', '--kty', 'EC', '--kid', 'issuer', '--no-password', '--insecure', 'issuer.pub.json', 'issuer.json'],
    { cwd: dir },
  );
  await ok(
    ['create', '--kty', 'EC', '--kid', 'other-issuer', '--no-password', '--insecure', 'other.pub.json', 'other.json'],
    { cwd: dir },
  );
  await ok(
    [
      'create',
      '--kty',
      'RSA',
      '--use',
      'enc',
      '--kid',
      'rp-enc',
      '--no-password',
      '--insecure',
      'rp.pub.json',
      'rp.json',
    ],
    { cwd: dir },
  );
  await ok(
    [
      'create',
      '--backend',
      'pkcs11',
      '--pkcs11-uri',
      softhsm.uri('e2e-nested'),
      '--kty',
      'EC',
      '--crv',
      'P-384',
      '--use',
      'enc',
      '--alg',
      'ECDH-ES+A256KW',
      '--kid',
      'rp-hsm',
      'hsm.pub.json',
      'hsm.json',
    ],
    { cwd: dir, env },
  );
}, 120_000);

async function nested(recipient: string, extra: string[] = []): Promise<string> {
  return (
    await ok(['jwt', '--key', 'issuer.json', ...CLAIMS, '--encrypt-to', recipient, ...extra], { cwd: dir, env })
  ).stdout.trim();
}

describe('jwt --encrypt-to and verify --decrypt-with', () => {
  it('signs, then encrypts to the key: a JWE with cty JWT and the recipient kid; verify --decrypt-with prints the claims', async () => {
    const result = await ok(
      ['jwt', '--key', 'issuer.json', ...CLAIMS, '--claim', 'email=alice@example.com', '--encrypt-to', 'rp.pub.json'],
      { cwd: dir },
    );
    const token = result.stdout.trim();
    expect(headerOf(token)).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'rp-enc', cty: 'JWT' });
    expect(result.stderr).toBe('Signed (ES256), then encrypted to key "rp-enc" (RSA-OAEP-256, A256GCM).\n');
    const verified = await ok(['verify', '--key', 'issuer.pub.json', '--decrypt-with', 'rp.json', token], { cwd: dir });
    expect(JSON.parse(verified.stdout)).toMatchObject({
      iss: 'https://issuer.example',
      sub: 'alice',
      email: 'alice@example.com',
    });
    expect(verified.stderr).toMatch(
      /^Decrypted with key "rp-enc": RSA-OAEP-256, A256GCM\.\nThe signature is valid: ES256, key "issuer"\.\n/,
    );
    const json = JSON.parse(
      (await ok(['verify', '--json', '--key', 'issuer.pub.json', '--decrypt-with', 'rp.json', token], { cwd: dir }))
        .stdout,
    ) as Record<string, unknown>;
    expect(json).toMatchObject({
      valid: true,
      alg: 'ES256',
      kid: 'issuer',
      decrypted: { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'rp-enc' },
    });
  });

  it("jose reads keymint's nested JWT (decrypt, then jwtVerify) and keymint reads jose's", async () => {
    const token = await nested('rp.pub.json', ['--encrypt-enc', 'A128CBC-HS256']);
    const { plaintext, protectedHeader } = await compactDecrypt(
      token,
      await importJWK(readJson<Jwk>(join(dir, 'rp.json')) as Parameters<typeof importJWK>[0], 'RSA-OAEP-256'),
    );
    expect(protectedHeader).toMatchObject({ cty: 'JWT', enc: 'A128CBC-HS256' });
    const { payload } = await jwtVerify(
      Buffer.from(plaintext).toString(),
      await importJWK(readJson<Jwk>(join(dir, 'issuer.pub.json')) as Parameters<typeof importJWK>[0], 'ES256'),
    );
    expect(payload).toMatchObject({ sub: 'alice', aud: 'https://rp.example' });

    const inner = await new SignJWT({ sub: 'bob' })
      .setProtectedHeader({ alg: 'ES256', kid: 'issuer', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK(readJson<Jwk>(join(dir, 'issuer.json')) as Parameters<typeof importJWK>[0], 'ES256'));
    const outer = await new CompactEncrypt(new TextEncoder().encode(inner))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'JWT', kid: 'rp-hsm' })
      .encrypt(
        await importJWK(readJson<Jwk>(join(dir, 'hsm.pub.json')) as Parameters<typeof importJWK>[0], 'ECDH-ES+A256KW'),
      );
    const verified = await ok(['verify', '--key', 'issuer.pub.json', '--decrypt-with', 'hsm.json', outer], {
      cwd: dir,
      env,
    });
    expect(JSON.parse(verified.stdout)).toMatchObject({ sub: 'bob' });
  });

  it('a recipient key on SoftHSM2: encrypted to its public key, decrypted inside the token', async () => {
    const token = await nested('hsm.pub.json', ['--encrypt-enc', 'A192GCM']);
    expect(headerOf(token)).toMatchObject({
      alg: 'ECDH-ES+A256KW',
      enc: 'A192GCM',
      kid: 'rp-hsm',
      cty: 'JWT',
      epk: { kty: 'EC', crv: 'P-384' },
    });
    const verified = await ok(['verify', '--key', 'issuer.pub.json', '--decrypt-with', 'hsm.json', token], {
      cwd: dir,
      env,
    });
    expect(verified.stderr).toMatch(/Decrypted with key "rp-hsm": ECDH-ES\+A256KW, A192GCM\./);
    expect(readFileSync(join(dir, 'hsm.json'), 'utf8')).not.toMatch(/"d"/);
  });

  it.each([
    [
      'a JWE without --decrypt-with',
      async () => ['verify', '--key', 'issuer.pub.json', await nested('rp.pub.json')],
      9,
      /the token is encrypted \(a JWE with five parts\): it must be decrypted before it is verified; give the private key it was encrypted to with --decrypt-with/,
    ],
    [
      'a signature by another key',
      async () => ['verify', '--key', 'other.pub.json', '--decrypt-with', 'rp.json', await nested('rp.pub.json')],
      18,
      /the token was signed by key "issuer", but other\.pub\.json is key "other-issuer"/,
    ],
    [
      'an --encrypt-alg the recipient key is not for',
      async () => [
        'jwt',
        '--key',
        'issuer.json',
        ...CLAIMS,
        '--encrypt-to',
        'hsm.pub.json',
        '--encrypt-alg',
        'ECDH-ES',
      ],
      4,
      /--encrypt-alg ECDH-ES does not fit the key, whose "alg" is ECDH-ES\+A256KW; leave out --encrypt-alg/,
    ],
    [
      'an --encrypt-enc keymint does not know',
      async () => ['jwt', '--key', 'issuer.json', ...CLAIMS, '--encrypt-to', 'rp.pub.json', '--encrypt-enc', 'A1GCM'],
      3,
      /--encrypt-enc "A1GCM" is not a content encryption algorithm/,
    ],
    [
      '--decrypt-with another key',
      async () => ['verify', '--key', 'issuer.pub.json', '--decrypt-with', 'other.json', await nested('rp.pub.json')],
      16,
      /the JWE is encrypted to key "rp-enc", but other\.json is key "other-issuer"/,
    ],
    [
      '--encrypt-alg without --encrypt-to',
      async () => ['jwt', '--key', 'issuer.json', ...CLAIMS, '--encrypt-alg', 'RSA-OAEP'],
      2,
      /--encrypt-alg needs --encrypt-to/,
    ],
    [
      '--encrypt-to a signing key',
      async () => ['jwt', '--key', 'issuer.json', ...CLAIMS, '--encrypt-to', 'other.pub.json'],
      4,
      /is for signing \("use": "sig"\)/,
    ],
  ])('%s: exit %i', async (_name, args, code, pattern) => {
    await expectFailure(dir, await args(), code as number, [pattern as RegExp], { env });
  });

  it('content that is not a JWT (cty) is refused after decryption: exit 9', async () => {
    const outer = (
      await ok(['encrypt', '--key', 'rp.pub.json', '--header', 'cty=text/plain', '-'], { cwd: dir, input: 'a.b.c' })
    ).stdout.trim();
    await expectFailure(dir, ['verify', '--key', 'issuer.pub.json', '--decrypt-with', 'rp.json', outer], 9, [
      /the JWE holds "text\/plain" content, not a signed JWT \(cty JWT\)/,
    ]);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, startKeyringSession, startSoftHsm, type KeyringSession } from '@keymint/test-kit';
import {
  expectError,
  expectFailure,
  keymint,
  listDir,
  privateMembersIn,
  readJson,
  type Jwk,
  type RunResult,
} from '../helpers.js';
import { startKeyutilsRing, uniqueService, type KeyutilsRing } from '../keychain/session.js';
import { decodePart, jwkFile, opensslVerify, sharedDir } from './helpers.js';

/**
 * Keys that never leave their backend, through the same commands as files: a key reference from
 * the pkcs11 backend (a SoftHSM2 token) and from the keychain backend (GNOME Keyring over a
 * private D-Bus session, and the kernel keyring). Every command reaches the key through core's one
 * path (openPrivateKey → the backend named in the reference); none has a case of its own.
 */

const ENDPOINT = 'https://as.example.com/oauth2/token';
const TOKEN = 'toolbox';
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
afterAll(() => softhsm.remove());

let session: KeyringSession;
let ring: KeyutilsRing;
beforeAll(async () => {
  session = await startKeyringSession();
  ring = await startKeyutilsRing();
});
afterAll(async () => {
  await session?.stop();
  await ring?.stop();
});

interface Form {
  name: string;
  /** The flags of `create` that put the key in the backend. */
  create: () => string[];
  alg: string;
  /** Runs keymint where the backend can be reached. */
  run: (args: readonly string[], cwd: string) => Promise<RunResult>;
}

const FORMS: Form[] = [
  {
    name: 'pkcs11 EC P-256',
    create: () => ['--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN)],
    alg: 'ES256',
    run: (args, cwd) => keymint(args, { cwd }),
  },
  {
    name: 'pkcs11 RSA 2048',
    create: () => ['--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN), '--kty', 'RSA'],
    alg: 'RS256',
    run: (args, cwd) => keymint(args, { cwd }),
  },
  {
    name: 'keychain (Secret Service) Ed25519',
    create: () => [
      '--backend',
      'keychain',
      '--keychain-store',
      'secret-service',
      '--keychain-service',
      uniqueService('toolbox'),
      '--kty',
      'OKP',
    ],
    alg: 'EdDSA',
    run: (args, cwd) => keymint(args, { cwd, env: { ...session.env } }),
  },
  {
    name: 'keychain (keyutils) EC P-384',
    create: () => [
      '--backend',
      'keychain',
      '--keychain-store',
      'keyutils',
      '--keychain-service',
      uniqueService('toolbox'),
      '--crv',
      'P-384',
    ],
    alg: 'ES384',
    run: (args, cwd) => ring.keymint(args, { cwd }),
  },
];

describe.each(FORMS)('a key reference: $name', (form) => {
  const dir = sharedDir();
  let pub: Jwk;
  const run = async (args: readonly string[]) => expectOk(await form.run(args, dir));

  beforeAll(async () => {
    await run(['create', ...form.create(), 'key.pub.json', 'key.json']);
    pub = readJson<Jwk>(join(dir, 'key.pub.json'));
    writeFileSync(join(dir, 'payload.txt'), `signed by ${form.name}`);
  });

  it('the private file is a reference: no private member anywhere', () => {
    const ref = readJson<{ type: string; backend: string; jwk: Jwk }>(join(dir, 'key.json'));
    expect(ref.type).toBe('keymint-key-reference');
    expect(ref.backend).toBe(form.name.split(' ')[0]);
    expect(privateMembersIn(ref.jwk)).toEqual([]);
  });

  it('sign: a JWS with the kid, verified by jose (and openssl for ES256/RS256)', async () => {
    const jws = (await run(['sign', '--key', 'key.json', 'payload.txt'])).stdout.trim();
    expect(decodePart(jws.split('.')[0])).toEqual({ alg: form.alg, kid: pub.kid });
    const { payload } = await compactVerify(jws, await importJWK(pub as never, form.alg));
    expect(Buffer.from(payload).toString()).toBe(`signed by ${form.name}`);
    if (form.alg === 'ES256' || form.alg === 'RS256') expect(opensslVerify(dir, jws, pub)).toBe(true);
  });

  it('jwt client-assertion: RFC 7523 claims, verified by jose, and by keymint verify with the reference', async () => {
    const token = (
      await run([
        'jwt',
        'client-assertion',
        '--key',
        'key.json',
        '--client-id',
        'client-1',
        '--token-endpoint',
        ENDPOINT,
      ])
    ).stdout.trim();
    const { payload } = await jwtVerify(token, await importJWK(pub as never, form.alg), {
      issuer: 'client-1',
      subject: 'client-1',
      audience: ENDPOINT,
      requiredClaims: ['jti', 'iat', 'exp'],
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    expect(JSON.parse((await run(['verify', '--key', 'key.json', token])).stdout)).toMatchObject({ iss: 'client-1' });
  });

  it('jwt: a JWT with the given claims', async () => {
    const token = (
      await run(['jwt', '--key', 'key.json', '--iss', 'i', '--sub', 's', '--aud', 'a', '--claim', 'scope=read'])
    ).stdout.trim();
    const { payload } = await jwtVerify(token, await importJWK(pub as never, form.alg), { issuer: 'i', audience: 'a' });
    expect(payload.scope).toBe('read');
  });

  it('public, thumbprint, pem --public and keyset add work from the reference alone', async () => {
    expect(JSON.parse((await run(['public', 'key.json'])).stdout)).toEqual(pub);
    expect((await run(['thumbprint', 'key.json'])).stdout.trim()).toBe(pub.kid);
    expect((await run(['pem', '--public', 'key.json'])).stdout).toBe((await run(['pem', 'key.pub.json'])).stdout);
    await run(['keyset', 'add', 'jwks.json', 'key.json']);
    expect(readJson(join(dir, 'jwks.json'))).toEqual({ keys: [pub] });
  });

  it('a private PEM, or --private into a set, is refused: the key cannot leave its backend (exit 4, nothing written)', async () => {
    const before = listDir(dir);
    expectError(
      await form.run(['pem', '--out', 'key.pem', 'key.json'], dir),
      4,
      /cannot leave the backend/,
      /use --public/,
    );
    expectError(
      await form.run(['keyset', 'add', '--private', 'private-set.json', 'key.json'], dir),
      4,
      /cannot leave the backend/,
    );
    expect(listDir(dir)).toEqual(before);
  });

  it('an alg that does not fit the key: exit 4', async () => {
    expectError(await form.run(['sign', '--key', 'key.json', '--alg', 'HS256', 'payload.txt'], dir), 4, /does not fit/);
  });
});

describe('key references: what can go wrong with the backend', () => {
  const dir = sharedDir();
  let reference: Record<string, unknown> & { location: { uri: string } };

  beforeAll(async () => {
    expectOk(
      await keymint(['create', '--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN), 'key.pub.json', 'key.json'], {
        cwd: dir,
      }),
    );
    reference = readJson(join(dir, 'key.json'));
    writeFileSync(join(dir, 'payload.txt'), 'x');
    writeFileSync(join(dir, 'wrong.pin'), '000000\n');
  });

  const variant = (name: string, uri: string) => jwkFile(dir, name, { ...reference, location: { uri } });

  it('a key that is no longer on the token (a wrong object and id): exit 16', async () => {
    const file = variant(
      'gone.json',
      reference.location.uri.replace(/object=[^;]*;/, 'object=gone;').replace(/id=[^?]*/, 'id=%01'),
    );
    await expectFailure(dir, ['sign', '--key', file, 'payload.txt'], 16, [
      /has no private or secret key with label "gone"/,
    ]);
  });

  it('a wrong PIN: exit 11, without the PIN in the message', async () => {
    const file = variant(
      'wrong-pin.json',
      reference.location.uri.replace(/pin-source=file:[^&]*/, `pin-source=file:${join(dir, 'wrong.pin')}`),
    );
    const result = await expectFailure(
      dir,
      ['jwt', 'client-assertion', '--key', file, '--client-id', 'c', '--token-endpoint', ENDPOINT],
      11,
      [/refused the PIN/],
    );
    expect(result.stderr).not.toContain('000000');
  });

  it('no PIN source with --json: a JSON error, exit 2, never a prompt', async () => {
    const file = variant('no-pin.json', reference.location.uri.replace(/&pin-source=file:[^&]*/, ''));
    const result = await keymint(['sign', '--json', '--key', file, 'payload.txt'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'ERR_PASSWORD_REQUIRED' } });
  });

  it('a reference file that is not one: exit 9', async () => {
    writeFileSync(
      join(dir, 'broken.json'),
      readFileSync(join(dir, 'key.json'), 'utf8').replace('"location"', '"nowhere"'),
    );
    await expectFailure(dir, ['sign', '--key', 'broken.json', 'payload.txt'], 9, [/malformed key reference/]);
  });
});

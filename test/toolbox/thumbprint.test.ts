import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOk, pythonThumbprint, runTool } from '@keymint/test-kit';
import { expectFailure, keymint, type Jwk } from '../helpers.js';
import { PASS_FILE, createKey, jwkFile, ok, sharedDir, type KeyPairFiles } from './helpers.js';

const dir = sharedDir();
const pw = ['--password-file', PASS_FILE];
const keys: Record<string, KeyPairFiles> = {};

const EC_AND_RSA: [string, string[]][] = [
  ['EC P-256', []],
  ['EC P-384', ['--crv', 'P-384']],
  ['EC P-521', ['--crv', 'P-521']],
  ['EC secp256k1', ['--crv', 'secp256k1']],
  ['RSA 2048', ['--kty', 'RSA']],
];
const OKP: [string, string[]][] = [
  ['OKP Ed25519', ['--kty', 'OKP', '--crv', 'Ed25519']],
  ['OKP Ed448', ['--kty', 'OKP', '--crv', 'Ed448']],
  ['OKP X25519', ['--kty', 'OKP', '--crv', 'X25519', '--use', 'enc']],
  ['OKP X448', ['--kty', 'OKP', '--crv', 'X448', '--use', 'enc']],
];
const fileName = (name: string) => name.replace(/\W/g, '_');

beforeAll(async () => {
  for (const [name, args] of [...EC_AND_RSA, ...OKP])
    keys[name] = await createKey(dir, fileName(name), args, { plain: !name.endsWith('P-256') });
  keys.oct = await createKey(dir, 'oct', ['--kty', 'oct', '--kid', 'hmac'], { plain: true });
});

const JOSE_HASH: Record<string, string> = { sha256: 'S256', sha384: 'S384', sha512: 'S512' };

describe('keymint thumbprint equals `jose jwk thp` (Debian jose C tool) for EC and RSA', () => {
  it.each(EC_AND_RSA.flatMap(([name]) => ['sha256', 'sha384', 'sha512'].map((hash) => [name, hash] as const)))(
    '%s, %s',
    async (name, hash) => {
      const key = keys[name] as KeyPairFiles;
      const ours = (await ok(['thumbprint', '--hash', hash, key.pub], { cwd: dir })).stdout;
      const theirs = runTool('jose', ['jwk', 'thp', '-i', key.pub, '-a', JOSE_HASH[hash] as string], {
        cwd: dir,
      }).trim();
      expect(ours).toBe(`${theirs}\n`);
      expect(Buffer.from(theirs, 'base64url')).toHaveLength({ sha256: 32, sha384: 48, sha512: 64 }[hash] as number);
    },
  );
});

// Debian 12's jose 11 computes OKP thumbprints from uninitialized memory (the result changes from
// run to run), so OKP keys are checked against RFC 7638 written out in Python instead.
describe('keymint thumbprint equals an RFC 7638 computation in Python for OKP keys (RFC 8037 §2)', () => {
  it.each(OKP.flatMap(([name]) => ['sha256', 'sha512'].map((hash) => [name, hash] as const)))(
    '%s, %s',
    async (name, hash) => {
      const key = keys[name] as KeyPairFiles;
      const ours = (await ok(['thumbprint', '--hash', hash, key.pub], { cwd: dir })).stdout.trim();
      expect(ours).toBe(pythonThumbprint(key.publicJwk, hash));
    },
  );
});

describe('keymint thumbprint', () => {
  it('of a private key file (encrypted or plain) is that of its public key, and the default kid', async () => {
    for (const name of ['EC P-256', 'RSA 2048', 'OKP Ed448']) {
      const key = keys[name] as KeyPairFiles;
      const fromPrivate = (await ok(['thumbprint', ...pw, key.priv], { cwd: dir })).stdout.trim();
      expect(fromPrivate).toBe(key.publicJwk.kid);
      expect(fromPrivate).toBe((await ok(['thumbprint', key.pub], { cwd: dir })).stdout.trim());
    }
  });

  it('reads standard input with - (and by default)', async () => {
    const key = keys['EC P-384'] as KeyPairFiles;
    const text = readFileSync(join(dir, key.priv), 'utf8');
    for (const args of [['-'], []])
      expect((await ok(['thumbprint', ...args], { cwd: dir, input: text })).stdout.trim()).toBe(key.publicJwk.kid);
  });

  it('--uri prints the RFC 9278 URI; --json prints hash, kid, thumbprint and uri', async () => {
    const key = keys['RSA 2048'] as KeyPairFiles;
    expect((await ok(['thumbprint', '--uri', key.pub], { cwd: dir })).stdout).toBe(
      `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${String(key.publicJwk.kid)}\n`,
    );
    const sha384 = (await ok(['thumbprint', '--uri', '--hash', 'sha384', key.pub], { cwd: dir })).stdout.trim();
    expect(sha384).toBe(`urn:ietf:params:oauth:jwk-thumbprint:sha-384:${pythonThumbprint(key.publicJwk, 'sha384')}`);
    const out = JSON.parse((await ok(['thumbprint', '--json', key.pub], { cwd: dir })).stdout) as Record<
      string,
      unknown
    >;
    expect(out).toEqual({
      hash: 'sha256',
      kid: key.publicJwk.kid,
      thumbprint: key.publicJwk.kid,
      uri: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${String(key.publicJwk.kid)}`,
    });
  });

  it('of a JWK Set: one line per key, thumbprint and kid', async () => {
    const a = keys['EC P-521'] as KeyPairFiles;
    const b = keys['OKP X25519'] as KeyPairFiles;
    jwkFile(dir, 'set.json', { keys: [a.publicJwk, { ...b.publicJwk, kid: 'renamed' }] });
    const result = await ok(['thumbprint', 'set.json'], { cwd: dir });
    expect(result.stdout).toBe(
      `${String(a.publicJwk.kid)}\t${String(a.publicJwk.kid)}\n${String(b.publicJwk.kid)}\trenamed\n`,
    );
  });

  it('of an oct key only with --subtle (it is a hash of the secret)', async () => {
    await expectFailure(dir, ['thumbprint', 'oct.json'], 9, [
      /oct key: its thumbprint is a hash of the secret/,
      /--subtle/,
    ]);
    const k = (JSON.parse(readFileSync(join(dir, 'oct.json'), 'utf8')) as Jwk).k as string;
    const expected = createHash('sha256').update(`{"k":"${k}","kty":"oct"}`).digest('base64url');
    expect((await ok(['thumbprint', '--subtle', 'oct.json'], { cwd: dir })).stdout.trim()).toBe(expected);
    expect(runTool('jose', ['jwk', 'thp', '-i', 'oct.json', '-a', 'S256'], { cwd: dir }).trim()).toBe(expected);
  });

  it('refuses an unknown --hash (exit 3), a missing file (8), a non-key (9), a wrong password (6)', async () => {
    await expectFailure(dir, ['thumbprint', '--hash', 'md5', 'EC_P_256.pub.json'], 3, [
      /--hash "md5" is not supported: use sha256, sha384 or sha512/,
    ]);
    await expectFailure(dir, ['thumbprint', 'nothing.json'], 8, [/nothing.json: no such file/]);
    jwkFile(dir, 'not-a-key.json', { hello: 'world' });
    await expectFailure(dir, ['thumbprint', 'not-a-key.json'], 9, [/not a key file/]);
    jwkFile(dir, 'wrong.txt', 'wrong');
    await expectFailure(dir, ['thumbprint', '--password-file', 'wrong.txt', 'EC_P_256.json'], 6, [/wrong password/]);
  });

  it('never needs a password for a public file', async () => {
    expectOk(await keymint(['thumbprint', '--json', (keys['EC P-256'] as KeyPairFiles).pub], { cwd: dir }));
  });
});

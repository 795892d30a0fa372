import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOk } from '@keymint/test-kit';
import {
  FAST,
  PASSWORD,
  bitsOf,
  decodeB64url,
  decryptWithJose,
  expectKeyPair,
  keymint,
  listDir,
  modeOf,
  passwordFile,
  privateMembersIn,
  protectedHeader,
  publicPart,
  readJson,
  rfc7638,
  tempDir,
  writeFile,
  type Jwk,
  type RunResult,
} from './helpers.js';

/** Creates a key with a password file and the fast PBES2 count; returns the dir and both JWKs. */
async function create(
  args: readonly string[],
  password = PASSWORD,
): Promise<{ dir: string; result: RunResult; pub: Jwk; priv: Jwk }> {
  const dir = tempDir();
  const pass = passwordFile(dir, password);
  const result = await keymint(['create', ...FAST, '--password-file', pass, ...args, 'key.pub.json', 'key.json'], {
    cwd: dir,
  });
  expectOk(result);
  const pub = readJson<Jwk>(join(dir, 'key.pub.json'));
  const priv = await decryptWithJose(join(dir, 'key.json'), password);
  return { dir, result, pub, priv };
}

/** What every asymmetric key must satisfy: no secrets in the public file, same key pair, same metadata. */
function expectConsistent(pub: Jwk, priv: Jwk): void {
  expect(privateMembersIn(pub), 'no private member in the public file').toEqual([]);
  expect(privateMembersIn(priv).length, 'the private JWK has private members').toBeGreaterThan(0);
  expect(publicPart(priv)).toEqual(pub);
  expectKeyPair(priv, pub);
}

const MEMBERS: Record<string, string[]> = {
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
  RSA: ['n', 'e'],
};

describe('keymint create: defaults (REFERENCE §1)', () => {
  it('with no flag makes an EC P-256 ES256 sig key, kid = RFC 7638 thumbprint, encrypted with the default p2c 600000', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(['create', '--password-file', pass, 'key.pub.json', 'key.json'], { cwd: dir });
    expectOk(result);
    expect(result.stdout).toBe('');
    const pub = readJson<Jwk>(join(dir, 'key.pub.json'));
    expect(Object.keys(pub).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(pub.kid).toBe(rfc7638(pub));
    expect(decodeB64url(pub.x as string)).toHaveLength(32);

    const text = readFileSync(join(dir, 'key.json'), 'utf8');
    expect(text, 'flattened JSON indented with two spaces').toMatch(/^\{\n {2}"protected": "/);
    const jwe = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(jwe).sort()).toEqual(['ciphertext', 'encrypted_key', 'iv', 'protected', 'tag']);
    const header = protectedHeader(join(dir, 'key.json'));
    expect(header).toEqual({
      alg: 'PBES2-HS256+A128KW',
      enc: 'A256GCM',
      cty: 'jwk+json',
      p2c: 600_000,
      p2s: expect.any(String),
    });
    expect(decodeB64url(header.p2s as string)).toHaveLength(16);

    const priv = await decryptWithJose(join(dir, 'key.json'), PASSWORD);
    expect(priv).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: pub.kid });
    expectConsistent(pub, priv);
    expect(text).not.toContain(priv.d as string);

    expect(modeOf(join(dir, 'key.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'key.pub.json'))).toBe(0o644);
    expect(result.stderr).toContain('key.pub.json');
    expect(result.stderr).toMatch(/key\.json \(encrypted\)/);
    expect(result.stderr).toContain(`kid: ${String(pub.kid)}`);
    expect(listDir(dir)).toEqual(['key.json', 'key.pub.json', 'pass.txt']);
  });

  it('uses a new salt for every file', async () => {
    const a = await create([]);
    const b = await create([]);
    expect(protectedHeader(join(a.dir, 'key.json')).p2s).not.toBe(protectedHeader(join(b.dir, 'key.json')).p2s);
    expect(a.pub.kid).not.toBe(b.pub.kid);
  });

  // [flags, kty, crv, alg, use, bits (RSA/oct)]
  it.each([
    [['--kty', 'EC'], 'EC', 'P-256', 'ES256', 'sig', undefined],
    [['--kty', 'EC', '--crv', 'P-384'], 'EC', 'P-384', 'ES384', 'sig', undefined],
    [['--kty', 'EC', '--crv', 'P-521'], 'EC', 'P-521', 'ES512', 'sig', undefined],
    [['--crv', 'secp256k1'], 'EC', 'secp256k1', 'ES256K', 'sig', undefined],
    [['--kty', 'EC', '--use', 'enc'], 'EC', 'P-256', 'ECDH-ES', 'enc', undefined],
    [['--kty', 'EC', '--crv', 'P-384', '--use', 'enc'], 'EC', 'P-384', 'ECDH-ES', 'enc', undefined],
    [['--kty', 'OKP'], 'OKP', 'Ed25519', 'EdDSA', 'sig', undefined],
    [['--kty', 'OKP', '--crv', 'Ed448'], 'OKP', 'Ed448', 'EdDSA', 'sig', undefined],
    [['--kty', 'OKP', '--crv', 'X25519', '--use', 'enc'], 'OKP', 'X25519', 'ECDH-ES', 'enc', undefined],
    [['--kty', 'OKP', '--crv', 'X448', '--use', 'enc'], 'OKP', 'X448', 'ECDH-ES', 'enc', undefined],
    [['--kty', 'RSA'], 'RSA', undefined, 'RS256', 'sig', 2048],
    [['--kty', 'RSA', '--use', 'enc'], 'RSA', undefined, 'RSA-OAEP-256', 'enc', 2048],
    [['--kty', 'oct'], 'oct', undefined, 'HS256', 'sig', 256],
    [['--kty', 'oct', '--use', 'enc'], 'oct', undefined, 'A256GCMKW', 'enc', 256],
  ] as [string[], string, string | undefined, string, string, number | undefined][])(
    'default for %j: %s %s %s use %s',
    async (flags, kty, crv, alg, use, bits) => {
      const { pub, priv } = await create(flags);
      if (kty === 'oct') {
        // No public part: the "public" file holds the secret key itself, and there is no default kid.
        expect(pub).toEqual(priv);
        expect(Object.keys(pub).sort()).toEqual(['alg', 'k', 'kty', 'use']);
        expect(decodeB64url(pub.k as string).length * 8).toBe(bits);
        expect(pub).toMatchObject({ kty, alg, use });
        return;
      }
      expect(Object.keys(pub).sort()).toEqual(['alg', 'kid', 'kty', 'use', ...(MEMBERS[kty] ?? [])].sort());
      expect(pub).toMatchObject({ kty, alg, use, ...(crv === undefined ? {} : { crv }) });
      expect(pub.kid).toBe(rfc7638(pub));
      if (bits !== undefined) expect(bitsOf(pub.n as string)).toBe(bits);
      if (kty === 'RSA') expect(pub.e).toBe('AQAB');
      expectConsistent(pub, priv);
    },
  );

  it('X25519 gets the RFC 8037 thumbprint (crv, kty, x) as kid', async () => {
    const { pub } = await create(['--kty', 'OKP', '--crv', 'X25519', '--use', 'enc']);
    const expected = `{"crv":"X25519","kty":"OKP","x":"${String(pub.x)}"}`;
    expect(pub.kid).toBe(createHash('sha256').update(expected).digest('base64url'));
  });
});

describe('keymint create: each flag', () => {
  it.each([
    ['--type', ['--type', 'RSA'], { kty: 'RSA', alg: 'RS256' }],
    ['--curve', ['--curve', 'P-384'], { kty: 'EC', crv: 'P-384', alg: 'ES384' }],
    ['--algorithm', ['--kty', 'RSA', '--algorithm', 'PS256'], { kty: 'RSA', alg: 'PS256' }],
    ['--alg', ['--kty', 'RSA', '--alg', 'RS512'], { kty: 'RSA', alg: 'RS512' }],
    ['--alg PS384', ['--kty', 'RSA', '--alg', 'PS384'], { kty: 'RSA', alg: 'PS384' }],
    ['--crv/--alg', ['--kty', 'EC', '--crv', 'P-521', '--alg', 'ES512'], { kty: 'EC', crv: 'P-521', alg: 'ES512' }],
    [
      '--use enc --alg RSA-OAEP',
      ['--kty', 'RSA', '--use', 'enc', '--alg', 'RSA-OAEP'],
      { kty: 'RSA', use: 'enc', alg: 'RSA-OAEP' },
    ],
    [
      '--use enc --alg ECDH-ES+A256KW',
      ['--crv', 'P-521', '--use', 'enc', '--alg', 'ECDH-ES+A256KW'],
      { crv: 'P-521', use: 'enc', alg: 'ECDH-ES+A256KW' },
    ],
    [
      'X448 --alg ECDH-ES+A128KW',
      ['--kty', 'OKP', '--crv', 'X448', '--use', 'enc', '--alg', 'ECDH-ES+A128KW'],
      { crv: 'X448', alg: 'ECDH-ES+A128KW' },
    ],
    ['Ed25519 --alg EdDSA', ['--kty', 'OKP', '--crv', 'Ed25519', '--alg', 'EdDSA'], { crv: 'Ed25519', alg: 'EdDSA' }],
    [
      '--subtle allows RSA1_5',
      ['--kty', 'RSA', '--use', 'enc', '--alg', 'RSA1_5', '--subtle'],
      { kty: 'RSA', use: 'enc', alg: 'RSA1_5' },
    ],
  ] as [string, string[], Record<string, string>][])('%s', async (_name, flags, expected) => {
    const { pub, priv } = await create(flags);
    expect(pub).toMatchObject(expected);
    expect(priv).toMatchObject(expected);
    expectConsistent(pub, priv);
  });

  it('--size sets the RSA modulus size', async () => {
    const { pub } = await create(['--kty', 'RSA', '--size', '3072']);
    expect(bitsOf(pub.n as string)).toBe(3072);
  });

  it.each([
    [['--kty', 'oct', '--alg', 'HS384'], 'HS384', 384],
    [['--kty', 'oct', '--alg', 'HS512'], 'HS512', 512],
    [['--kty', 'oct', '--alg', 'HS256', '--size', '512'], 'HS256', 512],
    [['--kty', 'oct', '--use', 'enc', '--alg', 'A128KW'], 'A128KW', 128],
    [['--kty', 'oct', '--use', 'enc', '--alg', 'A192GCMKW'], 'A192GCMKW', 192],
    [['--kty', 'oct', '--use', 'enc', '--alg', 'A256KW', '--size', '256'], 'A256KW', 256],
    [['--kty', 'oct', '--use', 'enc', '--alg', 'dir'], 'dir', 128],
    [['--kty', 'oct', '--use', 'enc', '--alg', 'dir', '--size', '512'], 'dir', 512],
  ] as [string[], string, number][])(
    'oct %j: alg %s, %i bits (size in bits, from the alg)',
    async (flags, alg, bits) => {
      const { pub, priv } = await create(flags);
      expect(pub.alg).toBe(alg);
      expect(decodeB64url(priv.k as string).length * 8).toBe(bits);
      expect(pub).toEqual(priv);
    },
  );

  it('--use with a value other than sig/enc is kept, with no default alg; an oct key is then 128 bits', async () => {
    const ec = await create(['--use', 'wrap']);
    expect(ec.pub).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'wrap' });
    expect(ec.pub.alg).toBeUndefined();
    const oct = await create(['--kty', 'oct', '--use', 'wrap']);
    expect(oct.pub.use).toBe('wrap');
    expect(oct.pub.alg).toBeUndefined();
    expect(decodeB64url(oct.pub.k as string)).toHaveLength(16);
  });

  it('--kid overrides the thumbprint in both files and in --json', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(
      ['create', ...FAST, '--json', '--password-file', pass, '--kid', 'my-key-1', 'k.pub', 'k.json'],
      { cwd: dir },
    );
    expectOk(result);
    const pub = readJson<Jwk>(join(dir, 'k.pub'));
    const priv = await decryptWithJose(join(dir, 'k.json'), PASSWORD);
    expect(pub.kid).toBe('my-key-1');
    expect(priv.kid).toBe('my-key-1');
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(json.kid).toBe('my-key-1');
    expect(json.thumbprint).toBe(rfc7638(pub));
  });

  it('--kid on an oct key is kept (oct keys get none by default)', async () => {
    const { pub, priv } = await create(['--kty', 'oct', '--kid', 'hmac-1']);
    expect(pub.kid).toBe('hmac-1');
    expect(priv.kid).toBe('hmac-1');
  });

  it('--password-file: trailing whitespace and newlines are trimmed, on the right only', async () => {
    const dir = tempDir();
    writeFile(dir, 'pass.txt', '  lead and trail \t \r\n\n');
    const result = await keymint(['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'k.json'], { cwd: dir });
    expectOk(result);
    const priv = await decryptWithJose(join(dir, 'k.json'), '  lead and trail');
    expectConsistent(readJson<Jwk>(join(dir, 'k.pub')), priv);
    await expect(decryptWithJose(join(dir, 'k.json'), 'lead and trail')).rejects.toThrow();
    await expect(decryptWithJose(join(dir, 'k.json'), '  lead and trail \t')).rejects.toThrow();
  });

  it('--password-file: a password with no newline at all is used as it is', async () => {
    const dir = tempDir();
    writeFile(dir, 'pass.txt', 'no-newline');
    expectOk(await keymint(['create', ...FAST, '--password-file', 'pass.txt', 'k.pub', 'k.json'], { cwd: dir }));
    expect((await decryptWithJose(join(dir, 'k.json'), 'no-newline')).kty).toBe('EC');
  });

  it('--no-password --insecure writes the private JWK in the clear, still 0600', async () => {
    const dir = tempDir();
    const result = await keymint(['create', '--no-password', '--insecure', '--kty', 'OKP', 'k.pub', 'k.json'], {
      cwd: dir,
    });
    expectOk(result);
    const priv = readJson<Jwk>(join(dir, 'k.json'));
    const pub = readJson<Jwk>(join(dir, 'k.pub'));
    expect(priv).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: pub.kid });
    expect(typeof priv.d).toBe('string');
    expectConsistent(pub, priv);
    expect(modeOf(join(dir, 'k.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'k.pub'))).toBe(0o644);
    expect(result.stderr).toMatch(/NOT encrypted/);
  });

  it('--insecure allows an RSA key below 2048 bits', async () => {
    const { pub, priv } = await create(['--kty', 'RSA', '--size', '1024', '--insecure']);
    expect(bitsOf(pub.n as string)).toBe(1024);
    expectConsistent(pub, priv);
  });

  it('--insecure allows an oct key below 128 bits', async () => {
    const { pub } = await create(['--kty', 'oct', '--use', 'wrap', '--size', '64', '--insecure']);
    expect(decodeB64url(pub.k as string)).toHaveLength(8);
  });

  it('--backend software is the default backend and can be named', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(
      ['create', ...FAST, '--json', '--backend', 'software', '--password-file', pass, 'k.pub', 'k.json'],
      { cwd: dir },
    );
    expectOk(result);
    expect((JSON.parse(result.stdout) as Record<string, unknown>).backend).toBe('software');
    expectConsistent(readJson<Jwk>(join(dir, 'k.pub')), await decryptWithJose(join(dir, 'k.json'), PASSWORD));
  });

  it('--pbes2-count sets the p2c written', async () => {
    const a = await create(['--pbes2-count', '2345']);
    expect(protectedHeader(join(a.dir, 'key.json')).p2c).toBe(2345);
    const b = await create([]);
    expect(protectedHeader(join(b.dir, 'key.json')).p2c).toBe(1000);
  });

  it('--pbes2-count 1000000 (the maximum) is accepted and written', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    expectOk(
      await keymint(['create', '--pbes2-count', '1000000', '--password-file', pass, 'k.pub', 'k.json'], { cwd: dir }),
    );
    expect(protectedHeader(join(dir, 'k.json')).p2c).toBe(1_000_000);
    expect((await decryptWithJose(join(dir, 'k.json'), PASSWORD)).kty).toBe('EC');
  });

  it('--jwks writes the public file as {"keys":[jwk]}', async () => {
    const { dir, priv } = await create(['--jwks', '--kty', 'RSA']);
    const set = readJson<{ keys: Jwk[] }>(join(dir, 'key.pub.json'));
    expect(Object.keys(set)).toEqual(['keys']);
    expect(set.keys).toHaveLength(1);
    const jwk = set.keys[0] as Jwk;
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwk.kid).toBe(rfc7638(jwk));
    expectConsistent(jwk, priv);
    expect(modeOf(join(dir, 'key.pub.json'))).toBe(0o644);
  });

  it('--json prints one JSON object with kid, thumbprint, thumbprintUri, files and publicJwk', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(
      ['create', ...FAST, '--json', '--password-file', pass, '--kty', 'OKP', 'k.pub', 'k.json'],
      { cwd: dir },
    );
    expectOk(result);
    expect(result.stderr).toBe('');
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    const pub = readJson<Jwk>(join(dir, 'k.pub'));
    const thumbprint = rfc7638(pub);
    expect(json).toMatchObject({
      kid: thumbprint,
      thumbprint,
      thumbprintUri: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${thumbprint}`,
      files: { public: 'k.pub', private: 'k.json' },
      publicJwk: pub,
    });
    expect(privateMembersIn(json.publicJwk as Jwk)).toEqual([]);
    expect(result.stdout.trim().startsWith('{')).toBe(true);
    expect(result.stdout.trim().endsWith('}')).toBe(true);
  });

  it('--json for an oct key: no kid, thumbprint or public JWK', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(
      ['create', ...FAST, '--json', '--password-file', pass, '--kty', 'oct', 'k.pub', 'k.json'],
      { cwd: dir },
    );
    expectOk(result);
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      kid: null,
      thumbprint: null,
      publicJwk: null,
      files: { public: 'k.pub', private: 'k.json' },
    });
    expect(result.stdout).not.toContain(readJson<Jwk>(join(dir, 'k.pub')).k as string);
  });

  it('--json never prompts: no password source gives exit 2 and a JSON error on stdout, no file', async () => {
    const dir = tempDir();
    const result = await keymint(['create', '--json', 'k.pub', 'k.json'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    const json = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(Object.keys(json)).toEqual(['error']);
    expect(json.error.code).toBe('ERR_PASSWORD_REQUIRED');
    expect(json.error.message).toMatch(/--password-file/);
    expect(listDir(dir)).toEqual([]);
  });

  it('--json reports a bad parameter as a JSON error with its exit code', async () => {
    const dir = tempDir();
    const result = await keymint(['create', '--json', '--kty', 'DSA', 'k.pub', 'k.json'], { cwd: dir });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('');
    const json = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('ERR_PARAM_INVALID');
    expect(json.error.message).toMatch(/--kty/);
    expect(listDir(dir)).toEqual([]);
  });

  it.each([['-f'], ['--force']])('%s replaces existing files, with the right modes', async (flag) => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    writeFile(dir, 'k.pub', 'old public\n', 0o600);
    writeFile(dir, 'k.json', 'old private\n', 0o666);
    const oldInode = statSync(join(dir, 'k.json')).ino;
    const result = await keymint(['create', ...FAST, flag, '--password-file', pass, 'k.pub', 'k.json'], { cwd: dir });
    expectOk(result);
    const pub = readJson<Jwk>(join(dir, 'k.pub'));
    expectConsistent(pub, await decryptWithJose(join(dir, 'k.json'), PASSWORD));
    expect(modeOf(join(dir, 'k.pub'))).toBe(0o644);
    expect(modeOf(join(dir, 'k.json'))).toBe(0o600);
    // Replaced by rename, not rewritten in place.
    expect(statSync(join(dir, 'k.json')).ino).not.toBe(oldInode);
    expect(listDir(dir)).toEqual(['k.json', 'k.pub', 'pass.txt']);
  });

  it('writes into subdirectories given in the paths', async () => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    mkdirSync(join(dir, 'pub'));
    mkdirSync(join(dir, 'priv'));
    expectOk(
      await keymint(['create', ...FAST, '--password-file', pass, 'pub/k.json', join(dir, 'priv', 'k.json')], {
        cwd: dir,
      }),
    );
    expectConsistent(
      readJson<Jwk>(join(dir, 'pub', 'k.json')),
      await decryptWithJose(join(dir, 'priv', 'k.json'), PASSWORD),
    );
  });
});

describe('keymint create: file modes', () => {
  it.each([['000'], ['077'], ['022']])('private 0600 and public 0644 under umask %s', async (umask) => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(['create', ...FAST, '--password-file', pass, 'k.pub', 'k.json'], { cwd: dir, umask });
    expectOk(result);
    expect(modeOf(join(dir, 'k.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'k.pub'))).toBe(0o644);
    expect(listDir(dir)).toEqual(['k.json', 'k.pub', 'pass.txt']);
  });

  it.each([['000'], ['077']])('oct keys: both files 0600 under umask %s, and a note says so', async (umask) => {
    const dir = tempDir();
    const pass = passwordFile(dir);
    const result = await keymint(['create', ...FAST, '--password-file', pass, '--kty', 'oct', 'k.pub', 'k.json'], {
      cwd: dir,
      umask,
    });
    expectOk(result);
    expect(modeOf(join(dir, 'k.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'k.pub'))).toBe(0o600);
    expect(result.stderr).toMatch(/oct key has no public part/);
    expect(result.stderr).toMatch(/k\.pub.*0600/);
  });

  it('--no-password oct: the note is there too and the private file is the plain key', async () => {
    const dir = tempDir();
    const result = await keymint(
      ['create', '--no-password', '--insecure', '--kty', 'oct', '--use', 'enc', 'k.pub', 'k.json'],
      { cwd: dir, umask: '000' },
    );
    expectOk(result);
    expect(readJson<Jwk>(join(dir, 'k.json'))).toEqual(readJson<Jwk>(join(dir, 'k.pub')));
    expect(modeOf(join(dir, 'k.pub'))).toBe(0o600);
    expect(result.stderr).toMatch(/0600/);
  });
});

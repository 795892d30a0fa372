import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '@keymint/test-kit';
import { BIN, expectFailure, keymint, runProgram, type Jwk } from '../helpers.js';
import {
  PASS_FILE,
  createKey,
  decodePart,
  jwkFile,
  nodeJwk,
  ok,
  opensslVerify,
  sharedDir,
  type KeyPairFiles,
} from './helpers.js';

const dir = sharedDir();
const keys: Record<string, KeyPairFiles> = {};
const pw = ['--password-file', PASS_FILE];

beforeAll(async () => {
  keys.es256 = await createKey(dir, 'es256', []);
  keys.rs256 = await createKey(dir, 'rs256', ['--kty', 'RSA']);
  keys.ed = await createKey(dir, 'ed', ['--kty', 'OKP', '--crv', 'Ed25519'], { plain: true });
  keys.es384 = await createKey(dir, 'es384', ['--crv', 'P-384'], { plain: true });
  keys.ps = await createKey(dir, 'ps', ['--kty', 'RSA', '--alg', 'PS512'], { plain: true });
  keys.hs = await createKey(dir, 'hs', ['--kty', 'oct', '--alg', 'HS384', '--kid', 'hmac-1'], { plain: true });
  keys.x = await createKey(dir, 'x', ['--kty', 'OKP', '--crv', 'X25519', '--use', 'enc'], { plain: true });
  writeFileSync(join(dir, 'payload.json'), '{"hello":"world"}');
  writeFileSync(join(dir, 'binary.bin'), Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10]));
});

/** The protected header, payload and signature of a compact JWS. */
function parts(jws: string): { header: Record<string, unknown>; payload: Buffer; signature: Buffer } {
  const [h, p, s] = jws.trim().split('.');
  return {
    header: decodePart(h),
    payload: Buffer.from(p ?? '', 'base64url'),
    signature: Buffer.from(s ?? '', 'base64url'),
  };
}

async function joseVerifies(jws: string, jwk: Jwk, alg: string): Promise<Buffer> {
  const { payload, protectedHeader } = await compactVerify(jws.trim(), await importJWK(jwk as never, alg), {
    algorithms: [alg],
  });
  expect(protectedHeader.alg).toBe(alg);
  return Buffer.from(payload);
}

describe('keymint sign: every kind of signing key, checked by jose (npm) and openssl', () => {
  it.each([
    ['es256', 'ES256', 64],
    ['rs256', 'RS256', 256],
    ['ed', 'EdDSA', 64],
    ['es384', 'ES384', 96],
    ['ps', 'PS512', 256],
  ])('%s: a compact JWS with alg %s and the kid, that jose verifies', async (name, alg, signatureBytes) => {
    const key = keys[name] as KeyPairFiles;
    const result = await ok(['sign', '--key', key.priv, ...pw, 'payload.json'], { cwd: dir });
    const jws = result.stdout.trim();
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { header, signature } = parts(jws);
    expect(header).toEqual({ alg, kid: key.publicJwk.kid });
    expect(signature).toHaveLength(signatureBytes);
    expect((await joseVerifies(jws, key.publicJwk, alg)).toString()).toBe('{"hello":"world"}');
  });

  it.each(['es256', 'rs256'])(
    '%s: openssl dgst -verify accepts the signature, and refuses it over other data',
    async (name) => {
      const key = keys[name] as KeyPairFiles;
      const jws = (await ok(['sign', '--key', key.priv, ...pw, 'payload.json'], { cwd: dir })).stdout.trim();
      expect(opensslVerify(dir, jws, key.publicJwk)).toBe(true);
      const [h, , s] = jws.split('.');
      expect(opensslVerify(dir, `${h}.${Buffer.from('other').toString('base64url')}.${s}`, key.publicJwk)).toBe(false);
    },
  );

  it('an oct key makes an HMAC JWS (HS384) that jose verifies with the secret', async () => {
    const jws = (
      await ok(['sign', '--key', (keys.hs as KeyPairFiles).priv, 'payload.json'], { cwd: dir })
    ).stdout.trim();
    expect(parts(jws).header).toEqual({ alg: 'HS384', kid: 'hmac-1' });
    const secret = JSON.parse(readFileSync(join(dir, (keys.hs as KeyPairFiles).priv), 'utf8')) as Jwk;
    await joseVerifies(jws, secret, 'HS384');
  });

  it('signs the payload bytes as they are (binary), from a file and from standard input', async () => {
    const bytes = readFileSync(join(dir, 'binary.bin'));
    const fromFile = (await ok(['sign', '--key', (keys.ed as KeyPairFiles).priv, 'binary.bin'], { cwd: dir })).stdout;
    expect(parts(fromFile).payload.equals(bytes)).toBe(true);
    for (const args of [['-'], []]) {
      // Through a shell redirection: the bytes reach keymint as they are in the file.
      const fromStdin = await runProgram(
        '/bin/sh',
        [
          '-c',
          'exec "$0" "$@" < binary.bin',
          process.execPath,
          BIN,
          'sign',
          '--key',
          (keys.ed as KeyPairFiles).priv,
          ...args,
        ],
        { cwd: dir },
      );
      expectOk(fromStdin);
      expect(parts(fromStdin.stdout).payload.equals(bytes)).toBe(true);
      expect((await joseVerifies(fromStdin.stdout, (keys.ed as KeyPairFiles).publicJwk, 'EdDSA')).equals(bytes)).toBe(
        true,
      );
    }
  });

  it('reads the key from standard input with --key -', async () => {
    const text = readFileSync(join(dir, (keys.es384 as KeyPairFiles).priv), 'utf8');
    const jws = (await keymint(['sign', '--key', '-', 'payload.json'], { cwd: dir, input: text })).stdout;
    await joseVerifies(jws, (keys.es384 as KeyPairFiles).publicJwk, 'ES384');
  });

  it('--alg picks another algorithm that fits a key without its own alg (PS256 for a Node-made RSA key)', async () => {
    const rsa = nodeJwk('RSA', { kid: 'node-rsa' });
    jwkFile(dir, 'node-rsa.json', rsa);
    const jws = (await ok(['sign', '--key', 'node-rsa.json', '--alg', 'PS256', 'payload.json'], { cwd: dir })).stdout;
    expect(parts(jws).header).toEqual({ alg: 'PS256', kid: 'node-rsa' });
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = rsa;
    await joseVerifies(jws, pub as Jwk, 'PS256');
  });

  it('adds --header members; --json prints the JWS, alg, kid and header', async () => {
    const result = await ok(
      [
        'sign',
        '--key',
        (keys.es256 as KeyPairFiles).priv,
        ...pw,
        '--header',
        'typ=example+jws',
        '--header',
        'x5t#S256=abc',
        '--json',
        'payload.json',
      ],
      { cwd: dir },
    );
    const out = JSON.parse(result.stdout) as { jws: string; alg: string; kid: string; header: Record<string, unknown> };
    expect(out.alg).toBe('ES256');
    expect(out.kid).toBe((keys.es256 as KeyPairFiles).publicJwk.kid);
    expect(out.header).toEqual({ alg: 'ES256', kid: out.kid, typ: 'example+jws', 'x5t#S256': 'abc' });
    expect(parts(out.jws).header).toEqual(out.header);
    expect(result.stderr).toBe('');
  });

  it('takes the password from KEYMINT_PASSWORD_FILE when --password-file is not given', async () => {
    const result = await keymint(['sign', '--key', (keys.es256 as KeyPairFiles).priv, 'payload.json'], {
      cwd: dir,
      env: { KEYMINT_PASSWORD_FILE: join(dir, PASS_FILE) },
    });
    expectOk(result);
    await joseVerifies(result.stdout, (keys.es256 as KeyPairFiles).publicJwk, 'ES256');
  });
});

describe('keymint sign: refusals (one line, documented exit code, nothing written)', () => {
  it('an alg that does not fit the key: exit 4', async () => {
    await expectFailure(
      dir,
      ['sign', '--key', (keys.es384 as KeyPairFiles).priv, '--alg', 'ES256', 'payload.json'],
      4,
      [/the key, whose "alg" is ES384/],
    );
    await expectFailure(dir, ['sign', '--key', 'node-rsa.json', '--alg', 'ES256', 'payload.json'], 4, [
      /ES256 does not fit a RSA key: use RS256/,
    ]);
    await expectFailure(
      dir,
      ['sign', '--key', (keys.rs256 as KeyPairFiles).priv, ...pw, '--alg', 'HS256', 'payload.json'],
      4,
      [/--alg HS256 does not fit/],
    );
  });

  it('a key that cannot sign (X25519, use enc): exit 4', async () => {
    await expectFailure(dir, ['sign', '--key', (keys.x as KeyPairFiles).priv, 'payload.json'], 4, [/cannot sign/]);
  });

  it('a public key: exit 9', async () => {
    await expectFailure(dir, ['sign', '--key', (keys.es256 as KeyPairFiles).pub, 'payload.json'], 9, [
      /holds a public key: a private key is needed/,
    ]);
  });

  it('a missing payload file: exit 8, before any password is asked', async () => {
    await expectFailure(dir, ['sign', '--key', (keys.es256 as KeyPairFiles).priv, 'missing.txt'], 8, [
      /payload missing.txt: no such file or directory/,
    ]);
  });

  it('no payload at all (standard input empty): exit 2', async () => {
    await expectFailure(dir, ['sign', '--key', (keys.ed as KeyPairFiles).priv], 2, [/no payload/]);
  });

  it('no --key: exit 2', async () => {
    await expectFailure(dir, ['sign', 'payload.json'], 2, [/sign needs --key FILE/]);
  });

  it('both the key and the payload on standard input: exit 2', async () => {
    await expectFailure(dir, ['sign', '--key', '-', '-'], 2, [/--key and the payload cannot both be standard input/], {
      input: '{}',
    });
  });

  it('a caller-given alg header: exit 3', async () => {
    await expectFailure(
      dir,
      ['sign', '--key', (keys.ed as KeyPairFiles).priv, '--header', 'alg=none', 'payload.json'],
      3,
      [/"alg" header is set by keymint/],
    );
    await expectFailure(
      dir,
      ['sign', '--key', (keys.ed as KeyPairFiles).priv, '--header', 'novalue', 'payload.json'],
      3,
      [/is not name=value/],
    );
  });

  it('an encrypted key with no password source and no terminal: exit 2; with --json a JSON error', async () => {
    await expectFailure(dir, ['sign', '--key', (keys.es256 as KeyPairFiles).priv, 'payload.json'], 2, [
      /password is needed to decrypt es256.json and there is no terminal/,
      /--password-file FILE/,
    ]);
    const result = await keymint(['sign', '--json', '--key', (keys.es256 as KeyPairFiles).priv, 'payload.json'], {
      cwd: dir,
    });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: { code: 'ERR_PASSWORD_REQUIRED', message: expect.stringMatching(/password is needed/) },
    });
  });
});

import { importJWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectFailure } from '../helpers.js';
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
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

beforeAll(async () => {
  keys.ec = await createKey(dir, 'ec', ['--kid', 'client-key-1']);
  keys.rsa = await createKey(dir, 'rsa', ['--kty', 'RSA']);
  keys.ed = await createKey(dir, 'ed', ['--kty', 'OKP'], { plain: true });
});

function decode(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, p] = token.trim().split('.');
  return { header: decodePart(h), claims: decodePart(p) };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('keymint jwt', () => {
  it('signs iss, sub, aud, iat, exp (5 minutes), a random jti; typ JWT and the kid in the header; jose jwtVerify accepts it', async () => {
    const before = nowSeconds();
    const token = (
      await ok(
        [
          'jwt',
          '--key',
          (keys.ec as KeyPairFiles).priv,
          ...pw,
          '--iss',
          'me',
          '--sub',
          'alice',
          '--aud',
          'https://api.example',
        ],
        { cwd: dir },
      )
    ).stdout.trim();
    const { header, claims } = decode(token);
    expect(header).toEqual({ alg: 'ES256', kid: 'client-key-1', typ: 'JWT' });
    expect(Object.keys(claims)).toEqual(['iss', 'sub', 'aud', 'iat', 'exp', 'jti']);
    expect(claims).toMatchObject({ iss: 'me', sub: 'alice', aud: 'https://api.example' });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(nowSeconds());
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
    expect(claims.jti).toMatch(UUID);
    const { payload } = await jwtVerify(token, await importJWK((keys.ec as KeyPairFiles).publicJwk as never, 'ES256'), {
      issuer: 'me',
      audience: 'https://api.example',
      typ: 'JWT',
      algorithms: ['ES256'],
    });
    expect(payload.sub).toBe('alice');
    expect(opensslVerify(dir, token, (keys.ec as KeyPairFiles).publicJwk)).toBe(true);
  });

  it('RS256: verifies with jose and with openssl dgst', async () => {
    const token = (
      await ok(['jwt', '--key', (keys.rsa as KeyPairFiles).priv, ...pw, '--iss', 'a', '--sub', 'b', '--aud', 'c'], {
        cwd: dir,
      })
    ).stdout.trim();
    expect(decode(token).header.alg).toBe('RS256');
    await jwtVerify(token, await importJWK((keys.rsa as KeyPairFiles).publicJwk as never, 'RS256'), {
      issuer: 'a',
      audience: 'c',
    });
    expect(opensslVerify(dir, token, (keys.rsa as KeyPairFiles).publicJwk)).toBe(true);
  });

  it('takes --exp, --nbf, --jti, several --aud, typed --claim values and --header', async () => {
    const result = await ok(
      [
        'jwt',
        '--key',
        (keys.ed as KeyPairFiles).priv,
        '--iss',
        'i',
        '--sub',
        's',
        '--aud',
        'one',
        '--aud',
        'two',
        '--exp',
        '10m',
        '--nbf',
        '30s',
        '--jti',
        'fixed-id',
        '--claim',
        'scope=read write',
        '--claim',
        'n=5',
        '--claim',
        'admin=false',
        '--claim',
        'roles=["a","b"]',
        '--claim',
        'zip="123"',
        '--header',
        'cty=example',
        '--json',
      ],
      { cwd: dir },
    );
    const out = JSON.parse(result.stdout) as {
      jwt: string;
      header: Record<string, unknown>;
      claims: Record<string, unknown>;
    };
    const { header, claims } = decode(out.jwt);
    expect(out.claims).toEqual(claims);
    expect(out.header).toEqual(header);
    expect(header).toEqual({ alg: 'EdDSA', kid: (keys.ed as KeyPairFiles).publicJwk.kid, typ: 'JWT', cty: 'example' });
    expect(claims).toMatchObject({
      aud: ['one', 'two'],
      jti: 'fixed-id',
      scope: 'read write',
      n: 5,
      admin: false,
      roles: ['a', 'b'],
      zip: '123',
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect((claims.nbf as number) - (claims.iat as number)).toBe(30);
    await jwtVerify(out.jwt, await importJWK((keys.ed as KeyPairFiles).publicJwk as never, 'EdDSA'), {
      audience: 'two',
      currentDate: new Date(((claims.nbf as number) + 1) * 1000),
    });
  });

  it('a bare --nbf is iat', async () => {
    const { claims } = decode(
      (
        await ok(['jwt', '--key', (keys.ed as KeyPairFiles).priv, '--iss', 'i', '--sub', 's', '--aud', 'a', '--nbf'], {
          cwd: dir,
        })
      ).stdout,
    );
    expect(claims.nbf).toBe(claims.iat);
  });

  it('--alg picks another algorithm that fits a key without an alg member', async () => {
    const rsa = nodeJwk('RSA', { kid: 'n' });
    jwkFile(dir, 'node-rsa.json', rsa);
    const token = (
      await ok(['jwt', '--key', 'node-rsa.json', '--alg', 'PS384', '--iss', 'i', '--sub', 's', '--aud', 'a'], {
        cwd: dir,
      })
    ).stdout.trim();
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = rsa;
    await jwtVerify(token, await importJWK(pub as never, 'PS384'), { algorithms: ['PS384'] });
  });
});

describe('keymint jwt client-assertion (RFC 7523 §3)', () => {
  const endpoint = 'https://as.example.com/oauth2/token';

  it('iss = sub = client ID, aud = the token endpoint, a unique jti, iat, exp 60 s later; jose accepts it as an AS would', async () => {
    const args = [
      'jwt',
      'client-assertion',
      '--key',
      (keys.rsa as KeyPairFiles).priv,
      ...pw,
      '--client-id',
      's6BhdRkqt3',
      '--token-endpoint',
      endpoint,
    ];
    const first = (await ok(args, { cwd: dir })).stdout.trim();
    const second = (await ok(args, { cwd: dir })).stdout.trim();
    const { header, claims } = decode(first);
    expect(header).toEqual({ alg: 'RS256', kid: (keys.rsa as KeyPairFiles).publicJwk.kid, typ: 'JWT' });
    expect(claims).toEqual({
      iss: 's6BhdRkqt3',
      sub: 's6BhdRkqt3',
      aud: endpoint,
      iat: expect.any(Number),
      exp: (claims.iat as number) + 60,
      jti: expect.stringMatching(UUID),
    });
    expect(decode(second).claims.jti).not.toBe(claims.jti);
    const { payload } = await jwtVerify(
      first,
      await importJWK((keys.rsa as KeyPairFiles).publicJwk as never, 'RS256'),
      {
        issuer: 's6BhdRkqt3',
        subject: 's6BhdRkqt3',
        audience: endpoint,
        requiredClaims: ['jti', 'exp', 'iat'],
        maxTokenAge: '2m',
      },
    );
    expect(payload.jti).toBe(claims.jti);
    expect(opensslVerify(dir, first, (keys.rsa as KeyPairFiles).publicJwk)).toBe(true);
  });

  it('takes --exp and --jti, and flags given before the subcommand name', async () => {
    const token = (
      await ok(
        [
          'jwt',
          '--key',
          (keys.ec as KeyPairFiles).priv,
          'client-assertion',
          ...pw,
          '--client-id',
          'c',
          '--token-endpoint',
          endpoint,
          '--exp',
          '2m',
          '--jti',
          'j-1',
        ],
        { cwd: dir },
      )
    ).stdout;
    const { claims } = decode(token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    expect(claims.jti).toBe('j-1');
    await jwtVerify(token.trim(), await importJWK((keys.ec as KeyPairFiles).publicJwk as never, 'ES256'), {
      issuer: 'c',
      audience: endpoint,
    });
  });

  it('--json prints the assertion with its header and claims', async () => {
    const out = JSON.parse(
      (
        await ok(
          [
            'jwt',
            'client-assertion',
            '--json',
            '--key',
            (keys.ed as KeyPairFiles).priv,
            '--client-id',
            'c',
            '--token-endpoint',
            endpoint,
          ],
          { cwd: dir },
        )
      ).stdout,
    ) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['jwt', 'header', 'claims']);
    expect(decode(out.jwt as string).claims).toEqual(out.claims);
  });
});

describe('keymint jwt: refusals', () => {
  it.each([
    [['--sub', 's', '--aud', 'a'], 2, /jwt needs --iss/],
    [['--iss', 'i', '--aud', 'a'], 2, /jwt needs --sub/],
    [['--iss', 'i', '--sub', 's'], 2, /jwt needs --aud/],
    [['--iss', 'i', '--sub', 's', '--aud', 'a', '--claim', 'exp=1'], 3, /"exp" claim has its own option: use --exp/],
    [['--iss', 'i', '--sub', 's', '--aud', 'a', '--claim', 'a=1', '--claim', 'a=2'], 3, /--claim a is given twice/],
    [['--iss', 'i', '--sub', 's', '--aud', 'a', '--exp', 'soon'], 3, /--exp "soon" is not a duration/],
    [['--iss', 'i', '--sub', 's', '--aud', 'a', '--exp', '0'], 3, /--exp "0" is not a duration/],
    [['--iss', '', '--sub', 's', '--aud', 'a'], 3, /--iss must not be empty/],
    [['--iss', 'i', '--sub', 's', '--aud', 'a', '--alg', 'RS256'], 4, /RS256 does not fit/],
  ])('jwt %j: exit %i', async (args, code, message) => {
    await expectFailure(dir, ['jwt', '--key', (keys.ed as KeyPairFiles).priv, ...args], code, [message]);
  });

  it.each([
    [['--token-endpoint', 'https://as/token'], 2, /needs --client-id/],
    [['--client-id', 'c'], 2, /needs --token-endpoint/],
    [['--client-id', 'c', '--token-endpoint', 'http://as.example.com/token'], 3, /not an https URL/],
    [['--client-id', 'c', '--token-endpoint', 'as.example.com'], 3, /is not a URL/],
  ])('client-assertion %j: exit %i', async (args, code, message) => {
    await expectFailure(dir, ['jwt', 'client-assertion', '--key', (keys.ed as KeyPairFiles).priv, ...args], code, [
      message,
    ]);
  });

  it('without --key: exit 2', async () => {
    await expectFailure(dir, ['jwt', '--iss', 'i', '--sub', 's', '--aud', 'a'], 2, [/jwt needs --key FILE/]);
    await expectFailure(
      dir,
      ['jwt', 'client-assertion', '--client-id', 'c', '--token-endpoint', 'https://as/token'],
      2,
      [/client-assertion needs --key FILE/],
    );
  });

  it('a wrong password: exit 6', async () => {
    jwkFile(dir, 'wrong.txt', 'not the password');
    await expectFailure(
      dir,
      [
        'jwt',
        '--key',
        (keys.ec as KeyPairFiles).priv,
        '--password-file',
        'wrong.txt',
        '--iss',
        'i',
        '--sub',
        's',
        '--aud',
        'a',
      ],
      6,
      [/wrong password/],
    );
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool, startKeyringSession, startSoftHsm, type KeyringSession } from '@keymint/test-kit';
import { readJson, type Jwk } from '../helpers.js';
import { uniqueService } from '../keychain/session.js';
import { ok, sharedDir } from '../toolbox/helpers.js';

/**
 * The OAuth case of issue 13, against a real authorization server on loopback (oidc-provider, a
 * certified OpenID Provider): an OpenID Connect client that authenticates with private_key_jwt (a
 * client assertion signed by `keymint jwt client-assertion`) and asks for encrypted ID tokens
 * (`id_token_encrypted_response_alg: RSA-OAEP-256`). Its JWKS, registered with the server, is a
 * keymint key set holding its signing key and its `enc` key, whose private half is on SoftHSM2.
 * The authorization code flow runs without a person: the server's development login and consent
 * forms (devInteractions) are posted by the test, as a browser would. The ID token is decrypted
 * inside the token by `keymint verify --decrypt-with`, and its inner signature checked against the
 * server's JWKS. The last tests show the server accepting client assertions signed by software,
 * PEM-derived, HSM and keychain keys (client_credentials), as the README says.
 */

const dir = sharedDir();
const softhsm = startSoftHsm(['e2e-oidc']);
afterAll(() => softhsm.remove());
const hsmEnv = { SOFTHSM2_CONF: softhsm.conf };
const REDIRECT = 'https://rp.example/cb';

let server: Server;
let issuer = '';
let keyring: KeyringSession;
const service = uniqueService('oidc');

/** Cookies of the user agent, by name: the server's interaction and session cookies. */
const jar = new Map<string, string>();

async function browse(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar.size > 0) headers.set('cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; '));
  const response = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' });
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';');
    const eq = (pair as string).indexOf('=');
    jar.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
  }
  return response;
}

/** Follows redirects on the server until one leaves it (the client's redirect_uri) or a page is shown. */
async function follow(response: Response): Promise<Response | URL> {
  let current = response;
  for (let hops = 0; hops < 10; hops++) {
    const location = current.headers.get('location');
    if (location === null) return current;
    const next = new URL(location, issuer);
    if (next.origin !== new URL(issuer).origin) return next;
    current = await browse(next.href);
  }
  throw new Error('too many redirects');
}

/** Submits the development interaction form on the page (login, then consent), as a user would. */
async function submitForm(page: Response, fields: Record<string, string>): Promise<Response | URL> {
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
  if (action === undefined || prompt === undefined) throw new Error(`no interaction form in: ${html.slice(0, 200)}`);
  const body = new URLSearchParams({ prompt, ...(prompt === 'login' ? fields : {}) });
  return follow(
    await browse(action, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
  );
}

function clientAssertion(keyFile: string, clientId: string, env: Record<string, string> = {}): Promise<string> {
  return ok(
    ['jwt', 'client-assertion', '--key', keyFile, '--client-id', clientId, '--token-endpoint', `${issuer}/token`],
    { cwd: dir, env },
  ).then((r) => r.stdout.trim());
}

async function token(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams(params),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

beforeAll(async () => {
  keyring = await startKeyringSession();
  const keychainEnv = { ...keyring.env };
  // The relying party's keys, as the README's walkthrough makes them: a signing key, and an enc
  // key on SoftHSM2 (RSA-OAEP-256), both published in one keymint key set.
  await ok(
    ['create', '--kty', 'EC', '--kid', 'rp-sig', '--no-password', '--insecure', 'rp-sig.pub.json', 'rp-sig.json'],
    { cwd: dir },
  );
  await ok(
    [
      'create',
      '--backend',
      'pkcs11',
      '--pkcs11-uri',
      softhsm.uri('e2e-oidc'),
      '--kty',
      'RSA',
      '--use',
      'enc',
      '--kid',
      'rp-enc',
      'rp-enc.pub.json',
      'rp-enc.json',
    ],
    { cwd: dir, env: hsmEnv },
  );
  await ok(['keyset', 'add', 'rp-jwks.json', 'rp-sig.pub.json'], { cwd: dir });
  await ok(['keyset', 'add', 'rp-jwks.json', 'rp-enc.pub.json'], { cwd: dir });
  // Clients that only authenticate: a software key, a key from a PEM file, an HSM key, a keychain key.
  await ok(['create', '--kty', 'RSA', '--kid', 'sw', '--no-password', '--insecure', 'sw.pub.json', 'sw.json'], {
    cwd: dir,
  });
  runTool('openssl', [
    'genpkey',
    '-algorithm',
    'RSA',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
    '-out',
    join(dir, 'client.pem'),
  ]);
  await ok(
    [
      'create',
      '--from-pem',
      'client.pem',
      '--use',
      'sig',
      '--alg',
      'PS256',
      '--kid',
      'pem',
      '--no-password',
      '--insecure',
      'pem.pub.json',
      'pem.json',
    ],
    { cwd: dir },
  );
  await ok(
    [
      'create',
      '--backend',
      'pkcs11',
      '--pkcs11-uri',
      softhsm.uri('e2e-oidc'),
      '--kty',
      'EC',
      '--kid',
      'hsm-sig',
      'hsm.pub.json',
      'hsm.json',
    ],
    { cwd: dir, env: hsmEnv },
  );
  await ok(
    [
      'create',
      '--backend',
      'keychain',
      '--keychain-service',
      service,
      '--kty',
      'OKP',
      '--crv',
      'Ed25519',
      '--kid',
      'desk',
      'desk.pub.json',
      'desk.json',
    ],
    { cwd: dir, env: keychainEnv },
  );
  // The server's own signing key, made by keymint too.
  await ok(['create', '--kty', 'RSA', '--kid', 'op-1', '--no-password', '--insecure', 'op.pub.json', 'op.json'], {
    cwd: dir,
  });

  const authOnly = (clientId: string, file: string, alg: string) => ({
    client_id: clientId,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: alg,
    jwks: { keys: [readJson<Jwk>(join(dir, file))] },
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  });
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'rp',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: readJson(join(dir, 'rp-jwks.json')),
        id_token_encrypted_response_alg: 'RSA-OAEP-256',
        id_token_encrypted_response_enc: 'A256GCM',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
      authOnly('sw-client', 'sw.pub.json', 'RS256'),
      authOnly('pem-client', 'pem.pub.json', 'PS256'),
      authOnly('hsm-client', 'hsm.pub.json', 'ES256'),
      authOnly('desk-client', 'desk.pub.json', 'EdDSA'),
    ],
    jwks: { keys: [readJson<Jwk>(join(dir, 'op.json'))] },
    features: {
      encryption: { enabled: true },
      clientCredentials: { enabled: true },
      devInteractions: { enabled: true },
    },
    scopes: ['openid', 'api'],
    findAccount: (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: () => ({ sub, email: `${sub}@example.com` }),
    }),
    claims: { openid: ['sub'], email: ['email'] },
  });
  server.on('request', provider.callback());
  writeFileSync(join(dir, 'op-jwks.json'), await (await fetch(`${issuer}/jwks`)).text());
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await keyring?.stop();
});

describe('an OpenID Connect client with encrypted ID tokens and its decryption key on SoftHSM2 (oidc-provider on loopback)', () => {
  it('registers its JWKS (a keymint key set), logs a user in with the code flow, authenticates with a keymint client assertion, and decrypts the ID token inside the HSM', async () => {
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string[]
    >;
    expect(discovery.id_token_encryption_alg_values_supported).toContain('RSA-OAEP-256');
    expect(discovery.token_endpoint_auth_methods_supported).toContain('private_key_jwt');

    const nonce = 'n-0S6_WzA2Mj';
    const authorize = `/auth?${new URLSearchParams({ client_id: 'rp', response_type: 'code', scope: 'openid email', redirect_uri: REDIRECT, nonce, state: 'xyz' })}`;
    const login = await follow(await browse(authorize));
    expect(login).toBeInstanceOf(Response);
    const consent = await submitForm(login as Response, { login: 'alice', password: 'any password' });
    const redirect = consent instanceof URL ? consent : await submitForm(consent, {});
    expect(redirect).toBeInstanceOf(URL);
    const code = (redirect as URL).searchParams.get('code');
    expect((redirect as URL).origin + (redirect as URL).pathname).toBe(REDIRECT);
    expect(code).toBeTruthy();

    const response = await token({
      grant_type: 'authorization_code',
      code: code as string,
      redirect_uri: REDIRECT,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion('rp-sig.json', 'rp'),
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const idToken = response.body.id_token as string;
    expect(idToken.split('.')).toHaveLength(5);
    const outer = JSON.parse(Buffer.from(idToken.split('.')[0] as string, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(outer).toMatchObject({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'rp-enc', cty: 'JWT' });
    writeFileSync(join(dir, 'id_token.jwe'), idToken);

    // Decrypted on the token, then checked against the server's published keys.
    const verified = await ok(['verify', '--key', 'op-jwks.json', '--decrypt-with', 'rp-enc.json', 'id_token.jwe'], {
      cwd: dir,
      env: hsmEnv,
    });
    const claims = JSON.parse(verified.stdout) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: issuer, sub: 'alice', aud: 'rp', nonce });
    expect(verified.stderr).toMatch(
      /^Decrypted with key "rp-enc": RSA-OAEP-256, A256GCM\.\nThe signature is valid: RS256, key "op-1"\.\n/,
    );
    // The reference is all the relying party keeps: no private key material on disk.
    expect(readFileSync(join(dir, 'rp-enc.json'), 'utf8')).not.toMatch(/"(d|p|q)"/);
    // keymint decrypt alone gives the signed ID token, as the server signed it.
    const inner = (await ok(['decrypt', '--key', 'rp-enc.json', 'id_token.jwe'], { cwd: dir, env: hsmEnv })).stdout;
    expect(inner.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(inner.split('.')[0] as string, 'base64url').toString())).toMatchObject({
      alg: 'RS256',
      kid: 'op-1',
    });
  });

  it.each([
    ['a software key', 'sw-client', 'sw.json', false],
    ['a key made from a PEM file', 'pem-client', 'pem.json', false],
    ['a key on SoftHSM2', 'hsm-client', 'hsm.json', false],
    ['a key in the keychain', 'desk-client', 'desk.json', true],
  ] as const)(
    'accepts a client assertion signed by %s (private_key_jwt, client_credentials)',
    async (_name, clientId, keyFile, keychain) => {
      const env = keychain ? { ...keyring.env } : hsmEnv;
      const assertion = await clientAssertion(keyFile, clientId, env);
      const granted = await token({
        grant_type: 'client_credentials',
        scope: 'api',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
      });
      expect(granted.status, JSON.stringify(granted.body)).toBe(200);
      expect(granted.body).toMatchObject({ token_type: 'Bearer' });
      // Used once: the server refuses the same assertion again (its jti), as RFC 7523 §3 allows.
      const replayed = await token({
        grant_type: 'client_credentials',
        scope: 'api',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
      });
      expect(replayed.status).toBe(401);
    },
  );
});

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOFTHSM_MODULE, startSoftHsm, newKeyPair } from '@keymint/test-kit';
import { FAST, decryptWithJose, keymint, readJson, type Jwk, type RunResult } from '../helpers.js';
import { startKeyutilsRing, uniqueService, type KeyutilsRing } from '../keychain/session.js';

/**
 * No password, PEM password, PIN or private key material in any output of any command, on success
 * or error, human or --json (README: "Passwords, PINs and private keys never appear in output,
 * errors or arguments"). Every run below is recorded; once all keys exist, every stdout and
 * stderr is scanned for every secret, in the forms a leak could take: the value itself, its
 * base64url or base64, any 16-character piece of a private JWK member (d, p, q, dp, dq, qi, k)
 * and any 32-digit piece of its hex, and each line of a private key's PKCS#8 PEM body. The only
 * runs allowed to show a secret are those whose purpose is to print the private key (`pem` of a
 * private key, `public --subtle` of an oct key, `keyset find` in a private set), and those must
 * show it: the scan is checked to find what it should.
 *
 * Backends: software; pkcs11 on a SoftHSM2 token (test/pkcs11/softhsm.ts); keychain on a fresh
 * kernel session keyring (keyutils, test/keychain/session.ts). The Secret Service needs a D-Bus
 * session and GNOME Keyring and is left to test/keychain.
 */

const dir = mkdtempSync(join(tmpdir(), 'keymint-secrets-'));
const hex = () => randomBytes(8).toString('hex');
const PASSWORD = `password-${hex()}`;
const WRONG_PASSWORD = `wrong-password-${hex()}`;
const PEM_PASSWORD = `pem-password-${hex()}`;
const WRONG_PIN = `98${randomBytes(4).readUInt32BE(0)}`;
const TYPED_SECRET = `typed-on-the-command-line-${hex()}`;

writeFileSync(join(dir, 'pw.txt'), `${PASSWORD}\n`);
writeFileSync(join(dir, 'wrong.txt'), `${WRONG_PASSWORD}\n`);
writeFileSync(join(dir, 'pem-pw.txt'), `${PEM_PASSWORD}\n`);
writeFileSync(join(dir, 'payload.txt'), 'a payload');
const PW = ['--password-file', 'pw.txt'];

const TOKEN = 'secrets';
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
const { pin: PIN, soPin: SO_PIN } = softhsm;
let ring: KeyutilsRing | undefined;
const SERVICE = uniqueService('secrets');
/** keymint runs in the keyring without a D-Bus session: the kernel keyring is the store. */
const NO_BUS = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus')}` };
beforeAll(async () => {
  ring = await startKeyutilsRing();
});
afterAll(async () => {
  await ring?.stop();
  softhsm.remove();
  rmSync(dir, { recursive: true, force: true });
});

// ---- the secrets, and how to find them in text ---------------------------------------------

interface Secret {
  label: string;
  needles: string[];
}
const secrets: Secret[] = [];

function pieces(text: string, size: number, step: number): string[] {
  if (text.length <= size) return [text];
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i += step) out.push(text.slice(i, i + size));
  out.push(text.slice(-size));
  return out;
}

/** A password or PIN: the value, its base64url and base64, and any 8 characters of its random part. */
function addPassword(label: string, value: string): void {
  const random = /[0-9a-f]{16}$/.exec(value)?.[0];
  secrets.push({
    label,
    needles: [
      value,
      Buffer.from(value).toString('base64url'),
      Buffer.from(value).toString('base64'),
      ...(random === undefined ? [] : pieces(random, 8, 2)),
    ],
  });
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** The private members of a JWK, as base64url, standard base64 and hex pieces. */
function addKeyMaterial(label: string, jwk: Jwk): void {
  for (const member of PRIVATE_MEMBERS) {
    const value = jwk[member];
    if (typeof value !== 'string') continue;
    const bytes = Buffer.from(value, 'base64url');
    const base64 = bytes.toString('base64').replace(/=+$/, '');
    secrets.push({
      label: `${label}.${member}`,
      needles: [
        ...new Set([
          value,
          ...pieces(value, 16, 8),
          ...pieces(base64, 16, 8),
          ...pieces(bytes.toString('hex'), 32, 16),
        ]),
      ],
    });
  }
}

/** A private key's PEM body: the whole body and each of its lines. */
function addPemBody(label: string, pem: string): void {
  expect(pem).toMatch(/-----BEGIN (ENCRYPTED |EC |RSA )?PRIVATE KEY-----/);
  const lines = pem
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('-----'))
    .filter((line) => !/^[\w-]+: /.test(line));
  secrets.push({ label: `${label}.pem`, needles: [lines.join(''), ...lines.filter((line) => line.length >= 32)] });
}

addPassword('password', PASSWORD);
addPassword('wrong password', WRONG_PASSWORD);
addPassword('PEM password', PEM_PASSWORD);
addPassword('PIN', PIN);
addPassword('SO PIN', SO_PIN);
addPassword('wrong PIN', WRONG_PIN);
addPassword('typed secret', TYPED_SECRET);

function found(text: string): string[] {
  return secrets.filter((s) => s.needles.some((needle) => text.includes(needle))).map((s) => s.label);
}

// ---- the runs --------------------------------------------------------------------------------

interface Spec {
  args: string[];
  /** Expected exit code (default 0); 'any' where only the secrets matter (broken inputs). */
  code?: number | 'any';
  env?: Record<string, string>;
  stdin?: string;
  /** Label prefixes of the secrets this run prints on purpose (and must print). */
  allow?: string[];
  /** A secret typed on the command line on purpose (a user's mistake, or pin-value): argv not checked. */
  secretInArgv?: boolean;
  /** Run inside the kernel session keyring. */
  keyring?: boolean;
}

interface Recorded extends Spec {
  result: RunResult;
}
const recorded: Recorded[] = [];

async function run(spec: Spec): Promise<RunResult> {
  const result =
    spec.keyring === true
      ? await (ring as KeyutilsRing).keymint(spec.args, { cwd: dir, env: { ...NO_BUS, ...spec.env } })
      : await keymint(spec.args, {
          cwd: dir,
          ...(spec.env === undefined ? {} : { env: spec.env }),
          ...(spec.stdin === undefined ? {} : { input: spec.stdin }),
        });
  expect(result.stderr, `${spec.args.join(' ')}: no stack trace`).not.toMatch(/^\s+at /m);
  if (spec.code !== 'any')
    expect(result.code, `${spec.args.join(' ')}: ${result.stderr}${result.stdout.slice(0, 300)}`).toBe(spec.code ?? 0);
  recorded.push({ ...spec, result });
  return result;
}

/** Runs specs four at a time (they touch different files, or lock the ones they share). */
async function runAll(specs: readonly Spec[]): Promise<RunResult[]> {
  const results: RunResult[] = new Array<RunResult>(specs.length);
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      results[i] = await run(specs[i] as Spec);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return results;
}

const pubJwk = (name: string) => readJson<Jwk>(join(dir, `${name}.pub.json`));
const kidOf = (name: string) => pubJwk(name).kid as string;
const uri = (options: { pin?: boolean } = {}) => softhsm.uri(TOKEN, options);

// Software keys: every kty and curve, sig and enc, encrypted (p2c 600000 once, else 1000), plain.
const SOFTWARE: [string, string[]][] = [
  ['ec', []],
  ['ec384', ['--kty', 'EC', '--crv', 'P-384', '--json', ...FAST]],
  ['ec521', ['--crv', 'P-521', ...FAST]],
  ['k1', ['--crv', 'secp256k1', ...FAST]],
  ['ed', ['--kty', 'OKP', '--crv', 'Ed25519', '--json', ...FAST]],
  ['ed448', ['--kty', 'OKP', '--crv', 'Ed448', ...FAST]],
  ['x25519', ['--kty', 'OKP', '--crv', 'X25519', '--use', 'enc', ...FAST]],
  ['x448', ['--kty', 'OKP', '--crv', 'X448', '--use', 'enc', '--json', ...FAST]],
  ['rsa', ['--kty', 'RSA', '--json', ...FAST]],
  ['rsaenc', ['--kty', 'RSA', '--use', 'enc', '--alg', 'RSA-OAEP-256', ...FAST]],
  ['hs', ['--kty', 'oct', '--alg', 'HS256', '--kid', 'hs-1', '--json', ...FAST]],
  ['kw', ['--kty', 'oct', '--alg', 'A256GCMKW', '--use', 'enc', '--kid', 'kw-1', ...FAST]],
  ['jwks', ['--jwks', ...FAST]],
];
const SIGNERS = ['ec', 'ec384', 'ec521', 'k1', 'ed', 'ed448', 'rsa', 'hs', 'plain', 'frompem', 'fromenc', 'jwks'];

describe('secrets never appear in what keymint prints', () => {
  it('create, in every form and backend', async () => {
    await runAll(
      SOFTWARE.map(([name, flags]) => ({ args: ['create', ...PW, ...flags, `${name}.pub.json`, `${name}.json`] })),
    );
    await run({ args: ['create', '--no-password', '--insecure', '--json', 'plain.pub.json', 'plain.json'] });
    for (const [name] of SOFTWARE) addKeyMaterial(name, await decryptWithJose(join(dir, `${name}.json`), PASSWORD));
    addKeyMaterial('plain', readJson<Jwk>(join(dir, 'plain.json')));

    // --from-pem: a PKCS#8 key, an encrypted PKCS#8 key (its password from a file), a public key.
    const rsa = newKeyPair('rsa', { modulusLength: 2048 });
    const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(join(dir, 'in-rsa.pem'), rsaPem);
    addPemBody('in-rsa', rsaPem);
    addKeyMaterial('in-rsa', rsa.privateJwk as Jwk);
    const ec = newKeyPair('ec', { namedCurve: 'P-256' });
    writeFileSync(
      join(dir, 'in-ec.enc.pem'),
      ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PEM_PASSWORD }) as string,
    );
    addPemBody('in-ec', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    addKeyMaterial('in-ec', ec.privateJwk as Jwk);
    writeFileSync(join(dir, 'in-pub.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    await runAll([
      {
        args: [
          'create',
          '--from-pem',
          'in-rsa.pem',
          '--alg',
          'RS256',
          ...PW,
          ...FAST,
          'frompem.pub.json',
          'frompem.json',
        ],
      },
      {
        args: [
          'create',
          '--from-pem',
          'in-ec.enc.pem',
          '--pem-password-file',
          'pem-pw.txt',
          ...PW,
          ...FAST,
          '--json',
          'fromenc.pub.json',
          'fromenc.json',
        ],
      },
      { args: ['create', '--from-pem', 'in-pub.pem', 'frompub.pub.json', 'unused.json'] },
    ]);

    // pkcs11: the PIN from the URI's pin-source, or from KEYMINT_PKCS11_PIN.
    await runAll([
      { args: ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri(), 'hsm-ec.pub.json', 'hsm-ec.json'] },
      {
        args: [
          'create',
          '--backend',
          'pkcs11',
          '--pkcs11-uri',
          uri(),
          '--kty',
          'RSA',
          '--json',
          'hsm-rsa.pub.json',
          'hsm-rsa.json',
        ],
      },
      {
        args: [
          'create',
          '--backend',
          'pkcs11',
          '--pkcs11-uri',
          uri({ pin: false }),
          '--kty',
          'OKP',
          '--crv',
          'Ed25519',
          'hsm-ed.pub.json',
          'hsm-ed.json',
        ],
        env: { KEYMINT_PKCS11_PIN: PIN },
      },
    ]);

    // keychain, in the kernel keyring: the private JWK is read back with keyctl to know its members.
    await run({
      keyring: true,
      args: [
        'create',
        '--backend',
        'keychain',
        '--keychain-store',
        'keyutils',
        '--keychain-service',
        SERVICE,
        'kc.pub.json',
        'kc.json',
      ],
    });
    const id = (ring as KeyutilsRing).keyctl(['search', '@s', 'user', `keyring:${kidOf('kc')}@${SERVICE}`]);
    expect(id.status, id.stderr).toBe(0);
    addKeyMaterial('kc', JSON.parse((ring as KeyutilsRing).keyctl(['pipe', id.stdout.trim()]).stdout) as Jwk);
    expect(
      secrets.filter((s) => s.label.endsWith('.d') || s.label.endsWith('.k')).length,
      'private material of every software and keychain key',
    ).toBe(SOFTWARE.length + 4);
  }, 120_000);

  it('public, thumbprint, keyset, sign, jwt, jwt client-assertion, verify, pem, pkcs11, keychain', async () => {
    const privateFiles = [
      ...SOFTWARE.map(([n]) => n),
      'plain',
      'frompem',
      'fromenc',
      'hsm-ec',
      'hsm-rsa',
      'hsm-ed',
      'kc',
    ];
    const octs = ['hs', 'kw'];
    const hsmEnv = { KEYMINT_PKCS11_PIN: PIN };
    const keyringFor = (name: string) => (name === 'kc' ? { keyring: true } : {});

    // pem --out: the PKCS#8 bodies of the software keys, to look for in everything else.
    const pemKeys = ['ec', 'ec521', 'ed', 'rsa', 'x25519', 'plain', 'frompem'];
    await runAll(
      pemKeys.map((name) => ({
        args: ['pem', '--no-password', '--insecure', ...PW, '--out', `${name}.key.pem`, `${name}.json`],
      })),
    );
    for (const name of pemKeys) addPemBody(name, readFileSync(join(dir, `${name}.key.pem`), 'utf8'));

    await runAll([
      ...privateFiles
        .filter((n) => !octs.includes(n))
        .map((name) => ({ args: ['public', ...PW, `${name}.json`], env: hsmEnv, ...keyringFor(name) })),
      ...['ec', 'rsa', 'hsm-ec', 'plain'].map((name) => ({ args: ['public', '--json', ...PW, `${name}.json`] })),
      { args: ['public', '-'], stdin: readFileSync(join(dir, 'plain.json'), 'utf8') },
      { args: ['public', ...PW, 'hs.json'], code: 9 },
      { args: ['public', '--subtle', ...PW, 'hs.json'], allow: ['hs.'] },
      { args: ['public', '--subtle', '--json', ...PW, 'kw.json'], allow: ['kw.'] },
      ...privateFiles
        .filter((n) => !octs.includes(n))
        .map((name) => ({ args: ['thumbprint', ...PW, `${name}.json`], env: hsmEnv, ...keyringFor(name) })),
      { args: ['thumbprint', '--uri', '--json', ...PW, 'rsa.json'] },
      { args: ['thumbprint', '--hash', 'sha512', ...PW, 'ed448.json'] },
      { args: ['thumbprint', ...PW, 'hs.json'], code: 9 },
      { args: ['thumbprint', '--subtle', ...PW, 'hs.json'] },
    ]);

    // keyset: public forms of every key; private keys into a private set.
    for (const name of privateFiles)
      await run({
        args: ['keyset', 'add', ...PW, 'public.jwks', `${name}.json`],
        env: hsmEnv,
        ...keyringFor(name),
        ...(octs.includes(name) ? { code: 9 } : {}),
      });
    for (const name of ['ec', 'rsa', 'hs', 'plain'])
      await run({ args: ['keyset', 'add', '--private', ...PW, 'private.jwks', `${name}.json`] });
    await runAll([
      { args: ['keyset', 'list', 'public.jwks'] },
      { args: ['keyset', 'list', '--json', 'private.jwks'] },
      { args: ['keyset', 'find', 'public.jwks', '--kid', kidOf('ec')] },
      { args: ['keyset', 'find', '--json', 'public.jwks', '--kid', kidOf('hsm-rsa')] },
      { args: ['keyset', 'find', 'private.jwks', '--kid', kidOf('ec')], allow: ['ec.'] },
      { args: ['keyset', 'find', '--json', 'private.jwks', '--kid', 'hs-1'], allow: ['hs.'] },
      {
        args: ['keyset', 'find', '-', '--kid', kidOf('rsa')],
        stdin: readFileSync(join(dir, 'private.jwks'), 'utf8'),
        allow: ['rsa.'],
      },
      { args: ['keyset', 'add', 'public.jwks', 'ec.pub.json'], code: 15 },
    ]);
    await run({ args: ['keyset', 'remove', 'public.jwks', '--kid', kidOf('x448')] });

    // sign, jwt and client assertions with every signing key; then verify the tokens.
    const signers = [...SIGNERS, 'hsm-ec', 'hsm-rsa', 'hsm-ed', 'kc'];
    await runAll(
      signers.map((name) => ({
        args: ['sign', '--key', `${name}.json`, ...PW, 'payload.txt'],
        env: hsmEnv,
        ...keyringFor(name),
      })),
    );
    await runAll([
      { args: ['sign', '--json', '--key', 'ec.json', ...PW, '--header', 'typ=example', 'payload.txt'] },
      { args: ['sign', '--key', 'plain.json', '-'], stdin: 'from stdin' },
    ]);
    const tokens = await runAll(
      signers.map((name) => ({
        args: [
          'jwt',
          '--key',
          `${name}.json`,
          ...PW,
          '--iss',
          'me',
          '--sub',
          'me',
          '--aud',
          'api',
          '--claim',
          'scope=read',
        ],
        env: hsmEnv,
        ...keyringFor(name),
      })),
    );
    const assertions = await runAll(
      ['rsa', 'ec', 'hsm-rsa', 'kc'].map((name) => ({
        args: [
          'jwt',
          'client-assertion',
          '--key',
          `${name}.json`,
          ...PW,
          '--client-id',
          'client-1',
          '--token-endpoint',
          'https://as.example/token',
        ],
        env: hsmEnv,
        ...keyringFor(name),
      })),
    );
    await runAll([
      { args: ['jwt', '--json', '--key', 'ed.json', ...PW, '--iss', 'me', '--sub', 'me', '--aud', 'api'] },
      {
        args: [
          'jwt',
          'client-assertion',
          '--json',
          '--key',
          'hsm-ec.json',
          '--client-id',
          'c',
          '--token-endpoint',
          'https://as.example/token',
        ],
        env: hsmEnv,
      },
    ]);
    const token = (i: number) => (tokens[i] as RunResult).stdout.trim();
    await runAll([
      ...signers.map((name, i) => ({
        args: [
          'verify',
          '--key',
          name === 'hs' ? 'hs.json' : `${name}.pub.json`,
          ...(name === 'hs' ? PW : []),
          token(i),
        ],
      })),
      { args: ['verify', '--key', 'ec.json', ...PW, token(signers.indexOf('ec'))] },
      { args: ['verify', '--json', '--key', 'public.jwks', token(signers.indexOf('hsm-rsa'))] },
      { args: ['verify', '--key', 'rsa.pub.json', (assertions[0] as RunResult).stdout.trim()] },
      { args: ['verify', '--key', 'ed.pub.json', token(signers.indexOf('ec'))], code: 18 },
      { args: ['verify', '--key', 'ec.pub.json', `${token(signers.indexOf('ec')).slice(0, -4)}AAAA`], code: 18 },
      { args: ['verify', '--json', '--key', 'hs.json', ...PW, `${token(signers.indexOf('hs'))}x`], code: 18 },
    ]);

    // pem: public keys of everything; private keys on stdout only where that is the point.
    await runAll([
      ...['ec', 'rsa', 'ed', 'x448', 'hsm-ec', 'hsm-rsa', 'kc', 'frompub'].map((name) => ({
        args: ['pem', '--public', ...PW, name === 'frompub' ? 'frompub.pub.json' : `${name}.json`],
        ...keyringFor(name),
      })),
      // A PKCS#8 body holds the private members' bytes: their base64 pieces show too.
      { args: ['pem', '--no-password', '--insecure', ...PW, 'ec.json'], allow: ['ec.pem', 'ec.d'] },
      { args: ['pem', '--no-password', '--insecure', '--json', ...PW, 'rsa.json'], allow: ['rsa.pem', 'rsa.'] },
      { args: ['pem', '--no-password', '--insecure', 'plain.json'], allow: ['plain.pem', 'plain.d'] },
      { args: ['pem', ...PW, '--pem-password-file', 'pem-pw.txt', 'ed.json'] },
      { args: ['pem', ...PW, '--pem-password-file', 'pem-pw.txt', '--json', '--out', 'ed.enc.pem', 'ed.json'] },
      { args: ['pem', 'hsm-ec.json'], code: 4 },
      { args: ['pem', '--no-password', '--insecure', ...PW, 'hs.json'], code: 9 },
    ]);

    // Listing tokens and keychains.
    await runAll([
      { args: ['pkcs11', 'tokens', '--pkcs11-module', SOFTHSM_MODULE] },
      { args: ['pkcs11', 'tokens', '--json', '--pkcs11-uri', uri()] },
      { args: ['pkcs11', 'keys', '--pkcs11-uri', uri()] },
      { args: ['pkcs11', 'keys', '--json', '--pkcs11-uri', uri({ pin: false })], env: hsmEnv },
      { keyring: true, args: ['keychain', 'keys', '--keychain-store', 'keyutils', '--keychain-service', SERVICE] },
      {
        keyring: true,
        args: ['keychain', 'keys', '--json', '--keychain-store', 'keyutils', '--keychain-service', SERVICE],
      },
    ]);
  }, 180_000);

  it('error paths: wrong password or PIN, bad flags, existing files, broken key files, --json errors', async () => {
    const wrong = ['--password-file', 'wrong.txt'];
    const plain = readJson<Jwk>(join(dir, 'plain.json'));
    const plainText = JSON.stringify(plain);
    writeFileSync(join(dir, 'truncated.json'), readFileSync(join(dir, 'ec.json'), 'utf8').slice(0, 300));
    writeFileSync(join(dir, 'truncated-plain.json'), plainText.slice(0, plainText.indexOf('"d"') + 30));
    writeFileSync(join(dir, 'bad-crv.json'), JSON.stringify({ ...plain, crv: 'P-999' }));
    writeFileSync(join(dir, 'bad-d.json'), JSON.stringify({ ...plain, d: `A${String(plain.d)}` }));
    writeFileSync(join(dir, 'd-not-b64.json'), JSON.stringify({ ...plain, d: `${String(plain.d)}!` }));
    writeFileSync(join(dir, 'pin-typo.txt'), `${WRONG_PIN}\n`);

    await runAll([
      // wrong password, from the flag or from KEYMINT_PASSWORD_FILE
      { args: ['public', ...wrong, 'ec.json'], code: 6 },
      { args: ['public', '--json', ...wrong, 'rsa.json'], code: 6 },
      { args: ['public', 'ec384.json'], env: { KEYMINT_PASSWORD_FILE: 'wrong.txt' }, code: 6 },
      { args: ['thumbprint', ...wrong, 'ed.json'], code: 6 },
      { args: ['keyset', 'add', ...wrong, 'other.jwks', 'ec.json'], code: 6 },
      { args: ['sign', '--key', 'hs.json', ...wrong, 'payload.txt'], code: 6 },
      { args: ['sign', '--json', '--key', 'rsa.json', ...wrong, 'payload.txt'], code: 6 },
      { args: ['jwt', '--key', 'ec.json', ...wrong, '--iss', 'a', '--sub', 'b', '--aud', 'c'], code: 6 },
      {
        args: [
          'jwt',
          'client-assertion',
          '--json',
          '--key',
          'rsa.json',
          ...wrong,
          '--client-id',
          'c',
          '--token-endpoint',
          'https://as.example/t',
        ],
        code: 6,
      },
      { args: ['verify', '--key', 'ec.json', ...wrong, 'e30.e30.c2ln'], code: 6 },
      { args: ['pem', '--no-password', '--insecure', ...wrong, 'ec.json'], code: 6 },
      { args: ['pem', '--no-password', '--insecure', '--json', ...wrong, '--out', 'x.pem', 'rsa.json'], code: 6 },
      {
        args: [
          'create',
          '--from-pem',
          'in-ec.enc.pem',
          '--pem-password-file',
          'wrong.txt',
          ...PW,
          'w.pub.json',
          'w.json',
        ],
        code: 6,
      },
      {
        args: [
          'create',
          '--json',
          '--from-pem',
          'in-ec.enc.pem',
          '--pem-password-file',
          'wrong.txt',
          ...PW,
          'w.pub.json',
          'w.json',
        ],
        code: 6,
      },
      // no password source, and --json never prompts
      { args: ['public', '--json', 'ec.json'], code: 2 },
      { args: ['create', '--json', 'n.pub.json', 'n.json'], code: 2 },
      { args: ['create', '--json', '--from-pem', 'in-ec.enc.pem', ...PW, 'n.pub.json', 'n.json'], code: 2 },
      // flags: a secret typed where a flag was expected is not echoed
      { args: ['create', '--password', TYPED_SECRET, 'n.pub.json', 'n.json'], code: 2, secretInArgv: true },
      { args: ['create', '--pin', TYPED_SECRET, 'n.pub.json', 'n.json'], code: 2, secretInArgv: true },
      { args: ['create', '--json', '--password', TYPED_SECRET, 'n.pub.json', 'n.json'], code: 2, secretInArgv: true },
      { args: ['sign', '--key', 'ec.json', '--password', TYPED_SECRET, 'payload.txt'], code: 2, secretInArgv: true },
      { args: ['pkcs11', 'keys', '--pin', TYPED_SECRET], code: 2, secretInArgv: true },
      { args: ['create', '--no-password', ...PW, 'n.pub.json', 'n.json'], code: 2 },
      { args: ['create', '--kty', 'RSA', '--size', '1024', ...PW, 'n.pub.json', 'n.json'], code: 3 },
      // existing files
      { args: ['create', ...PW, ...FAST, 'ec.pub.json', 'ec.json'], code: 7 },
      { args: ['create', '--json', ...PW, ...FAST, 'rsa.pub.json', 'rsa.json'], code: 7 },
      { args: ['pem', '--no-password', '--insecure', ...PW, '--out', 'ec.key.pem', 'ec.json'], code: 7 },
      { args: ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri(), 'hsm-ec.pub.json', 'hsm-ec.json'], code: 7 },
      // broken key files that hold private material: whatever keymint makes of them, no secret in its words
      ...[
        [...PW, 'truncated.json'],
        ['truncated-plain.json'],
        ['--json', 'truncated-plain.json'],
        ['bad-crv.json'],
        ['--json', 'bad-crv.json'],
        ['d-not-b64.json'],
        ['bad-d.json'],
      ].flatMap((input) => [
        { args: ['public', ...input], code: 'any' as const },
        { args: ['pem', '--public', ...input], code: 'any' as const },
        { args: ['thumbprint', ...input], code: 'any' as const },
        { args: ['sign', '--key', ...input.slice(-1), ...input.slice(0, -1), 'payload.txt'], code: 'any' as const },
        {
          args: ['jwt', '--key', ...input.slice(-1), ...input.slice(0, -1), '--iss', 'a', '--sub', 'b', '--aud', 'c'],
          code: 'any' as const,
        },
        { args: ['keyset', 'add', '--private', 'broken.jwks', ...input], code: 'any' as const },
      ]),
      // a token that does not verify
      { args: ['verify', '--json', '--key', 'ec.pub.json', 'e30.e30.c2ln'], code: 18 },
    ]);
    // The PIN: wrong from the environment, or a file; a label already on the token.
    await run({
      args: ['sign', '--key', 'hsm-ed.json', 'payload.txt'],
      env: { KEYMINT_PKCS11_PIN: WRONG_PIN },
      code: 11,
    });
    await run({
      args: [
        'pkcs11',
        'keys',
        '--json',
        '--pkcs11-uri',
        softhsm.uri(TOKEN, { pin: false }).replace('?', '?pin-source=file:pin-typo.txt&'),
      ],
      code: 11,
    });
    await run({ args: ['pkcs11', 'keys', '--pkcs11-uri', uri()] });
    await run({
      args: [
        'create',
        '--backend',
        'pkcs11',
        '--pkcs11-uri',
        uri(),
        '--kid',
        kidOf('hsm-ec'),
        'dup.pub.json',
        'dup.json',
      ],
      code: 15,
    });
    await run({
      args: [
        'create',
        '--json',
        '--backend',
        'pkcs11',
        '--pkcs11-uri',
        uri({ pin: false }),
        'nopin.pub.json',
        'nopin.json',
      ],
      code: 2,
    });
  }, 120_000);

  it('no password, PIN or private key material in any output, except where printing the key is the point', () => {
    expect(recorded.length, 'runs scanned').toBeGreaterThan(150);
    const leaks: string[] = [];
    const shown: string[] = [];
    for (const run of recorded) {
      const labels = found(`${run.result.stdout}\n${run.result.stderr}`);
      const allowed = run.allow ?? [];
      const unexpected = labels.filter((label) => !allowed.some((prefix) => label.startsWith(prefix)));
      if (unexpected.length > 0) leaks.push(`keymint ${run.args.join(' ')} printed ${unexpected.join(', ')}`);
      // The scan finds what it should: each allowed run does print its key.
      for (const prefix of allowed) {
        expect(
          labels.some((label) => label.startsWith(prefix)),
          `keymint ${run.args.join(' ')} prints ${prefix}`,
        ).toBe(true);
        shown.push(prefix);
      }
    }
    console.log(
      `secrets test: ${recorded.length} runs scanned for ${secrets.length} secrets (${secrets.reduce((n, s) => n + s.needles.length, 0)} needles); ${recorded.filter((r) => r.result.code !== 0).length} runs were errors`,
    );
    expect(leaks).toEqual([]);
    expect(shown.sort()).toEqual([
      'ec.',
      'ec.d',
      'ec.pem',
      'hs.',
      'hs.',
      'kw.',
      'plain.d',
      'plain.pem',
      'rsa.',
      'rsa.',
      'rsa.pem',
    ]);
  });

  it('no secret in the files meant to be shared: public keys, public sets, key references, public PEM', () => {
    const octPublic = ['hs.pub.json', 'kw.pub.json']; // an oct key's "public" file is the key (0600), as documented
    const shared = readdirSync(dir).filter(
      (name) =>
        (name.endsWith('.pub.json') && !octPublic.includes(name)) ||
        name === 'public.jwks' ||
        /^(hsm-\w+|kc)\.json$/.test(name),
    );
    expect(shared.length).toBeGreaterThan(20);
    for (const name of shared) expect(found(readFileSync(join(dir, name), 'utf8')), name).toEqual([]);
    // The oct files do hold their own key, and nothing else.
    for (const name of octPublic)
      expect(found(readFileSync(join(dir, name), 'utf8')).sort(), name).toEqual([`${name.split('.')[0] as string}.k`]);
  });

  it('argv: no secret was ever needed on a command line, and no flag takes one', async () => {
    const rawSecrets = [PASSWORD, WRONG_PASSWORD, PEM_PASSWORD, PIN, SO_PIN, WRONG_PIN, TYPED_SECRET];
    const material = secrets.filter((s) => /\.(d|p|q|dp|dq|qi|k|pem)$/.test(s.label)).flatMap((s) => s.needles);
    for (const run of recorded.filter((r) => r.secretInArgv !== true)) {
      const argv = run.args.join(' ');
      for (const secret of [...rawSecrets, ...material]) expect(argv.includes(secret), `keymint ${argv}`).toBe(false);
    }

    // Every flag of every command, from --help: a flag about a password, PIN or secret is a
    // switch or names a file; none takes the secret itself.
    const flags: { command: string; flag: string; value: string | undefined }[] = [];
    const commands: string[][] = [[]];
    for (let i = 0; i < commands.length; i++) {
      const path = commands[i] as string[];
      const help = await keymint([...path, '--help'], { cwd: dir });
      expect(help.code, help.stderr).toBe(0);
      const [optionsPart = '', commandsPart = ''] = help.stdout.split(/^Commands:$/m);
      for (const match of optionsPart.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)(?:, --[\w-]+)*(?: ([<[][\w=-]+[>\]]))?/gm)) {
        flags.push({ command: path.join(' ') || 'keymint', flag: match[1] as string, value: match[2] });
      }
      for (const match of commandsPart.split(/\n\n/)[0]?.matchAll(/^ {2}([a-z][\w-]*)/gm) ?? []) {
        if (match[1] !== 'help') commands.push([...path, match[1] as string]);
      }
    }
    expect(commands.map((c) => c.join(' '))).toEqual(
      expect.arrayContaining([
        'create',
        'public',
        'thumbprint',
        'keyset add',
        'keyset find',
        'sign',
        'jwt',
        'jwt client-assertion',
        'verify',
        'pem',
        'keys list',
        'keys delete',
        'keys describe',
      ]),
    );
    const sensitive = flags.filter(({ flag }) => /pass|pin|secret|private|credential/i.test(flag));
    expect(sensitive.map((f) => f.flag)).toEqual(
      expect.arrayContaining(['--password-file', '--no-password', '--pem-password-file', '--private']),
    );
    for (const { command, flag, value } of sensitive) {
      expect(
        value === undefined || (value === '<file>' && flag.endsWith('-file')),
        `${command} ${flag} ${value ?? ''}: a switch or a file`,
      ).toBe(true);
    }
  });

  it('a PIN given in the URI (pin-value) is warned about, never printed, and not kept in the reference', async () => {
    const pinUri = softhsm.uri(TOKEN, { pin: false }).replace('?', `?pin-value=${PIN}&`);
    const results = [
      await run({
        args: [
          'create',
          '--backend',
          'pkcs11',
          '--pkcs11-uri',
          pinUri,
          '--kty',
          'EC',
          '--crv',
          'P-384',
          'pv.pub.json',
          'pv.json',
        ],
        secretInArgv: true,
      }),
      await run({ args: ['pkcs11', 'keys', '--json', '--pkcs11-uri', pinUri], secretInArgv: true }),
    ];
    for (const result of results) {
      expect(result.stderr).toMatch(/warning: pin-value in a PKCS#11 URI leaks the PIN into process lists/);
      expect(found(result.stdout + result.stderr)).toEqual([]);
    }
    expect(existsSync(join(dir, 'pv.json'))).toBe(true);
    expect(readFileSync(join(dir, 'pv.json'), 'utf8')).not.toContain(PIN);
    expect(readFileSync(join(dir, 'pv.json'), 'utf8')).not.toContain('pin-value');
  });
});

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SOFTHSM_MODULE, expectOk, startSoftHsm } from '@keymint/test-kit';
import {
  BIN,
  keymint,
  keymintInPty,
  listDir,
  modeOf,
  privateMembersIn,
  readJson,
  rfc7638,
  runProgram,
  tempDir,
  writeFile,
  type Jwk,
} from '../helpers.js';

/**
 * keymint create --backend pkcs11, keymint pkcs11 tokens and keymint pkcs11 keys, run as a user
 * would: the built CLI against a SoftHSM2 token made for this file.
 */

const TOKEN = 'e2e-create';
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
const PIN = softhsm.pin;
afterAll(() => softhsm.remove());

interface Reference {
  type: string;
  version: number;
  backend: string;
  location: { uri: string };
  jwk: Jwk;
}

describe('keymint create --backend pkcs11', () => {
  it.each([
    ['EC P-256 (the default)', [], 'EC', 'ES256'],
    ['EC P-384', ['--kty', 'EC', '--crv', 'P-384'], 'EC', 'ES384'],
    ['Ed25519', ['--kty', 'OKP', '--crv', 'Ed25519'], 'OKP', 'EdDSA'],
    ['RSA 3072 PS256', ['--kty', 'RSA', '--size', '3072', '--alg', 'PS256'], 'RSA', 'PS256'],
  ])(
    '%s: public JWK with the RFC 7638 kid, a 0600 reference file with the URI and no PIN, and it signs',
    async (_name, flags, kty, alg) => {
      const dir = tempDir();
      const result = await keymint(
        ['create', '--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN), ...flags, 'key.pub.json', 'key.json'],
        { cwd: dir },
      );
      expectOk(result);
      expect(result.stderr).toMatch(/key\.json \(a reference to the key in the pkcs11 backend\)/);
      expect(listDir(dir)).toEqual(['key.json', 'key.pub.json']);
      expect(modeOf(join(dir, 'key.json'))).toBe(0o600);
      expect(modeOf(join(dir, 'key.pub.json'))).toBe(0o644);

      const pub = readJson<Jwk>(join(dir, 'key.pub.json'));
      expect(pub.kty).toBe(kty);
      expect(pub.alg).toBe(alg);
      expect(pub.kid).toBe(rfc7638(pub));
      expect(privateMembersIn(pub)).toEqual([]);

      const ref = readJson<Reference>(join(dir, 'key.json'));
      expect(ref).toMatchObject({ type: 'keymint-key-reference', version: 1, backend: 'pkcs11', jwk: pub });
      expect(privateMembersIn(ref.jwk)).toEqual([]);
      expect(ref.location.uri).toMatch(
        new RegExp(
          `^pkcs11:token=${TOKEN};.*object=${pub.kid as string};type=private;id=(%[0-9A-F]{2}){16}\\?module-path=${SOFTHSM_MODULE}&pin-source=file:${softhsm.pinFile}$`,
        ),
      );
      const text = JSON.stringify(ref);
      expect(text).not.toContain(PIN);
      expect(text).not.toContain('pin-value');

      // The reference is all another keymint command needs to sign with the key on the token.
      writeFile(dir, 'payload.txt', 'hello from the HSM');
      const signed = await keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir });
      expectOk(signed);
      writeFile(dir, 'token.jws', signed.stdout.trim());
      const verified = await keymint(['verify', '--key', 'key.pub.json', 'token.jws'], { cwd: dir });
      expectOk(verified);
      expect(verified.stdout).toContain('hello from the HSM');
    },
  );

  it.each([
    [
      'an HMAC key (HS256): a generic secret that signs on the token',
      ['--kty', 'oct', '--alg', 'HS256', '--kid', 'hmac-1'],
      'sig',
      'HS256',
    ],
    ['an AES key (A256GCMKW) for encryption', ['--kty', 'oct', '--use', 'enc', '--kid', 'aes-1'], 'enc', 'A256GCMKW'],
  ])('%s: only the reference file is written, its secret stays on the token', async (_name, flags, use, alg) => {
    const dir = tempDir();
    const before = softhsm.objects(TOKEN);
    const result = await keymint(
      ['create', '--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN), ...flags, 'key.pub.json', 'key.json'],
      { cwd: dir },
    );
    expectOk(result);
    expect(result.stderr).toMatch(
      /An oct key has no public part and its secret stays in the pkcs11 backend: key\.pub\.json was not written/,
    );
    expect(listDir(dir)).toEqual(['key.json']);
    expect(modeOf(join(dir, 'key.json'))).toBe(0o600);
    expect(softhsm.objects(TOKEN)).toBe(before + 1);
    const ref = readJson<Reference>(join(dir, 'key.json'));
    expect(ref).toMatchObject({ type: 'keymint-key-reference', backend: 'pkcs11', jwk: { kty: 'oct', use, alg } });
    expect(ref.jwk.k).toBeUndefined();
    if (use !== 'sig') return;
    // HMAC is deterministic: the token signs the same input the same way twice, with the kid in the header.
    writeFile(dir, 'payload.txt', 'hmac on the token');
    const first = await keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir });
    const second = await keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir });
    expectOk(first);
    expect(first.stdout).toBe(second.stdout);
    const [header, , signature] = first.stdout.trim().split('.');
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toEqual({ alg: 'HS256', kid: 'hmac-1' });
    expect(Buffer.from(signature ?? '', 'base64url')).toHaveLength(32);
  });

  it('--json: one JSON object on stdout with kid, thumbprint, backend and files', async () => {
    const dir = tempDir();
    const result = await keymint(
      [
        'create',
        '--json',
        '--backend',
        'pkcs11',
        '--pkcs11-uri',
        softhsm.uri(TOKEN),
        '--kid',
        'json-key',
        'k.pub.json',
        'k.json',
      ],
      { cwd: dir },
    );
    expectOk(result);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      kid: 'json-key',
      backend: 'pkcs11',
      privateKey: 'reference',
      files: { public: 'k.pub.json', private: 'k.json' },
    });
    expect(readJson<Reference>(join(dir, 'k.json')).location.uri).toContain('object=json-key;');
  });

  it('KEYMINT_PKCS11_URI and KEYMINT_PKCS11_PIN stand in for the flag and the pin-source', async () => {
    const dir = tempDir();
    const result = await keymint(['create', '--backend', 'pkcs11', 'k.pub.json', 'k.json'], {
      cwd: dir,
      env: { KEYMINT_PKCS11_URI: softhsm.uri(TOKEN, { pin: false }), KEYMINT_PKCS11_PIN: PIN },
    });
    expectOk(result);
    expect(readJson<Reference>(join(dir, 'k.json')).location.uri).not.toContain('pin-source');
  });

  it('pin-value works, with a warning on stderr that it leaks (stdout stays JSON)', async () => {
    const dir = tempDir();
    const uri = `${softhsm.uri(TOKEN, { pin: false })}&pin-value=${PIN}`;
    const result = await keymint(
      ['create', '--json', '--backend', 'pkcs11', '--pkcs11-uri', uri, 'k.pub.json', 'k.json'],
      { cwd: dir },
    );
    expectOk(result);
    expect(result.stderr).toBe(
      'keymint: warning: pin-value in a PKCS#11 URI leaks the PIN into process lists and shell history: prefer pin-source=file:/path or the KEYMINT_PKCS11_PIN environment variable\n',
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ backend: 'pkcs11' });
    expect(JSON.stringify(readJson(join(dir, 'k.json')))).not.toContain(PIN);
  });

  it('asks for the PIN on the terminal, echo off, when no other source has it', async () => {
    const dir = tempDir();
    const result = await keymintInPty(
      ['create', '--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN, { pin: false }), 'a.pub.json', 'a.json'],
      [PIN],
      { cwd: dir },
    );
    expect(result.timedOut).toBe(false);
    expect(result.status, result.output).toBe(0);
    expect(result.answered).toBe(1);
    expect(result.echoOff).toEqual([true]);
    expect(result.output).toContain(`PIN for token "${TOKEN}" (serial `);
    expect(result.output).not.toContain(PIN);
    expect(listDir(dir)).toEqual(['a.json', 'a.pub.json']);
  });
});

describe('keymint pkcs11 tokens and keys', () => {
  it('tokens: the module, its slots and tokens, each token with its URI and what keymint can make there', async () => {
    const dir = tempDir();
    const human = await keymint(['pkcs11', 'tokens', '--pkcs11-module', SOFTHSM_MODULE], { cwd: dir });
    expectOk(human);
    expect(human.stderr).toMatch(
      /^Module \/usr\/lib\/softhsm\/libsofthsm2\.so: SoftHSM, Implementation of PKCS11 2\.\d+ \(Cryptoki 2\.40\); 2 slots, 1 initialized token\.\n$/,
    );
    expect(human.stdout).toMatch(
      new RegExp(
        `^Slot \\d+: token "${TOKEN}" \\(serial [0-9a-f]{16}, SoftHSM project SoftHSM v2\\), login required$`,
        'm',
      ),
    );
    expect(human.stdout).toContain(`  uri:  pkcs11:token=${TOKEN};manufacturer=SoftHSM%20project;serial=`);
    expect(human.stdout).toContain('OKP Ed25519: EdDSA');
    expect(human.stdout).toMatch(/: token not initialized$/m);

    const json = await keymint(['pkcs11', 'tokens', '--json'], {
      cwd: dir,
      env: { KEYMINT_PKCS11_MODULE: SOFTHSM_MODULE },
    });
    expectOk(json);
    const listing = JSON.parse(json.stdout) as {
      module: { path: string; manufacturer: string };
      slots: Array<{ token: { label: string; initialized: boolean } | null; uri: string | null; keyTypes: string[] }>;
    };
    expect(listing.module).toMatchObject({ path: SOFTHSM_MODULE, manufacturer: 'SoftHSM' });
    const token = listing.slots.find((s) => s.token?.label === TOKEN);
    expect(token?.uri).toMatch(/\?module-path=\/usr\/lib\/softhsm\/libsofthsm2\.so$/);
    expect(token?.keyTypes).toContain('EC P-256: ES256');
  });

  it('keys: label, key type, kid and URI of each key, as created; --json for programs', async () => {
    const dir = tempDir();
    expectOk(
      await keymint(
        [
          'create',
          '--backend',
          'pkcs11',
          '--pkcs11-uri',
          softhsm.uri(TOKEN),
          '--kid',
          'listed-key',
          '--kty',
          'EC',
          '--crv',
          'P-521',
          'l.pub.json',
          'l.json',
        ],
        { cwd: dir },
      ),
    );
    const pub = readJson<Jwk>(join(dir, 'l.pub.json'));
    const ref = readJson<Reference>(join(dir, 'l.json'));

    const human = await keymint(['pkcs11', 'keys', '--pkcs11-uri', softhsm.uri(TOKEN)], { cwd: dir });
    expectOk(human);
    expect(human.stderr).toMatch(new RegExp(`^\\d+ keys? on token "${TOKEN}" \\(serial [0-9a-f]{16}\\)\\.\n$`));
    expect(human.stdout).toMatch(/^KID\s+KEY\s+ALG\s+USE\s+ID$/m);
    // The id keys delete takes is the key's URI, the one its reference holds (object=listed-key).
    const row = human.stdout.split('\n').find((line) => line.startsWith(rfc7638(pub)));
    expect(row?.split(/\s{2,}/)).toEqual([rfc7638(pub), 'EC P-521', '-', 'sig', ref.location.uri]);
    expect(ref.location.uri).toContain('object=listed-key');
    // The old name is an alias of keys list for one release: the same output.
    const modern = await keymint(['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', softhsm.uri(TOKEN)], {
      cwd: dir,
    });
    expect(modern).toEqual(human);

    const json = await keymint(['pkcs11', 'keys', '--json', '--pkcs11-uri', softhsm.uri(TOKEN)], { cwd: dir });
    expectOk(json);
    const { backend, token, keys } = JSON.parse(json.stdout) as {
      backend: string;
      token: { token: { label: string } };
      keys: Array<{ details: Record<string, unknown> }>;
    };
    expect(backend).toBe('pkcs11');
    expect(token.token.label).toBe(TOKEN);
    expect(keys.find((k) => k.details.label === 'listed-key')).toMatchObject({
      id: ref.location.uri,
      status: 'ok',
      kty: 'EC',
      crv: 'P-521',
      kid: rfc7638(pub),
      use: 'sig',
      reference: { backend: 'pkcs11', location: { uri: ref.location.uri } },
      details: { type: 'private', sensitive: true, extractable: false, usages: ['sign'], uri: ref.location.uri },
    });
  });

  it('keymint --help and software keys never load the native PKCS#11 binding; a pkcs11 command does', async () => {
    const dir = tempDir();
    const preload = fileURLToPath(new URL('./fixtures/report-native.mjs', import.meta.url));
    const run = (args: string[]) => runProgram(process.execPath, ['--import', preload, BIN, ...args], { cwd: dir });
    expect((await run(['--help'])).stderr).toContain('native-pkcs11-loaded=false');
    expect((await run(['create', '--no-password', '--insecure', 's.pub.json', 's.json'])).stderr).toContain(
      'native-pkcs11-loaded=false',
    );
    expect((await run(['pkcs11', 'tokens', '--pkcs11-module', SOFTHSM_MODULE])).stderr).toContain(
      'native-pkcs11-loaded=true',
    );
  });
});

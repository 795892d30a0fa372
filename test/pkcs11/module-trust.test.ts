import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  P11_KIT_CLIENT,
  SOFTHSM_MODULE,
  buildCanaryModule,
  expectOk,
  p11KitServer,
  startSoftHsm,
} from '@keymint/test-kit';
import { escapeRegExp, EXIT, expectError, expectFailure, keymint, readJson, tempDir, writeFile } from '../helpers.js';
import type { Jwk, RunResult } from '../helpers.js';

/**
 * A key reference is a file people share: the PKCS#11 module its URI names is native code, and
 * keymint loads it only when the system (p11-kit's registry, a root-only module directory) or the
 * user (a flag, KEYMINT_PKCS11_MODULES) trusts it. Watched with a canary built here with cc: a
 * working module that forwards to SoftHSM and appends a line to a marker file whenever a process
 * loads it.
 */

const { MODULE_UNTRUSTED: UNTRUSTED, INPUT_INVALID, USAGE } = EXIT;
const TOKEN = 'e2e-trust';
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
const dir = mkdtempSync(join(tmpdir(), 'keymint-e2e-canary-'));
afterAll(() => {
  softhsm.remove();
  rmSync(dir, { recursive: true, force: true });
});
const canary = buildCanaryModule(dir);
/** Nothing from the test runner's environment may trust a module. */
const NO_TRUST = { KEYMINT_PKCS11_MODULES: '', KEYMINT_PKCS11_MODULE: '', KEYMINT_PKCS11_URI: '' };
const tokenUri = (module: string) => `pkcs11:token=${TOKEN}?module-path=${module}&pin-source=file:${softhsm.pinFile}`;
const canaryUri = tokenUri(canary.path);
const SIGN = ['sign', '--key', 'key.json', 'payload.txt'];
const PAYLOAD = 'signed through the canary';

interface Reference {
  location: { uri: string };
  jwk: Jwk;
}

/** keymint in `cwd`, with no module trusted by the environment unless `env` says so. */
function run(cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return keymint(args, { cwd, env: { ...NO_TRUST, ...env } });
}

/** A failing run: exit `code`, one line matching `patterns`, nothing written, the canary not loaded again. */
async function refused(cwd: string, args: readonly string[], code: number, patterns: RegExp[]): Promise<RunResult> {
  const loads = canary.loads();
  const result = await expectFailure(cwd, args, code, patterns, { env: NO_TRUST });
  expect(canary.loads(), 'the canary was not loaded').toBe(loads);
  return result;
}

/** A copy of the reference `from` whose URI names its module by `module` (`module-path=...` or `module-name=...`). */
function referenceWith(cwd: string, from: string, module: string, name: string): string {
  const ref = readJson<Reference>(join(cwd, from));
  ref.location.uri = ref.location.uri.replace(/\?module-path=[^&]*/, `?${module}`);
  return writeFile(cwd, name, JSON.stringify(ref));
}

async function expectVerifies(jws: string, cwd: string, payload: string): Promise<void> {
  const jwk = readJson<Jwk>(join(cwd, 'key.pub.json'));
  const { payload: signed } = await compactVerify(jws.trim(), await importJWK(jwk, jwk.alg as string));
  expect(Buffer.from(signed).toString()).toBe(payload);
}

const untrustedMessage = (path: string) =>
  new RegExp(
    `^keymint: the PKCS#11 module ${escapeRegExp(path)}( \\(a link to [^)]+\\))? is not trusted: .*; ` +
      `if you trust it, set KEYMINT_PKCS11_MODULES=${escapeRegExp(path)} `,
  );

describe('a key made on a module named on the command line, then used from its reference', () => {
  const work = mkdtempSync(join(tmpdir(), 'keymint-e2e-trust-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  writeFile(work, 'payload.txt', PAYLOAD);

  // The issue's story in one run: the user's choice, a reference on its own, then the user trusting it.
  it('create --pkcs11-uri <canary> loads it; sign from the reference: exit 19; with KEYMINT_PKCS11_MODULES: signs', async () => {
    expect(canary.loads()).toBe(0);
    expectOk(await run(work, ['create', '--backend', 'pkcs11', '--pkcs11-uri', canaryUri, 'key.pub.json', 'key.json']));
    expect(canary.loads()).toBe(1);
    expect(readJson<Reference>(join(work, 'key.json')).location.uri).toContain(`?module-path=${canary.path}&`);

    const result = await refused(work, SIGN, UNTRUSTED, [untrustedMessage(canary.path)]);
    expect(result.stderr).toBe(
      `keymint: the PKCS#11 module ${canary.path} is not trusted: ` +
        'it is not registered with p11-kit, not in a system module directory and not named by you; ' +
        `if you trust it, set KEYMINT_PKCS11_MODULES=${canary.path} (or register it with p11-kit)\n`,
    );

    const signed = await run(work, SIGN, { KEYMINT_PKCS11_MODULES: `/opt/none.so:${canary.path}` });
    expectOk(signed);
    expect(canary.loads()).toBe(2);
    await expectVerifies(signed.stdout, work, PAYLOAD);
  });

  it('--pkcs11-uri on the sign command line trusts the module it names for that run, and no other', async () => {
    await refused(work, [...SIGN, '--pkcs11-uri', tokenUri(SOFTHSM_MODULE)], UNTRUSTED, [
      untrustedMessage(canary.path),
    ]);
    const result = await run(work, [...SIGN, '--pkcs11-uri', canaryUri]);
    expectOk(result);
    await expectVerifies(result.stdout, work, PAYLOAD);
  });

  it.each([
    [
      'module-name climbing out of the module directories',
      `module-name=../../../..${canary.path.replace(/\.so$/, '')}`,
    ],
    ['module-name with a "/"', `module-name=${canary.path.replace(/\.so$/, '')}`],
    ['module-name with a "\\"', 'module-name=..%5Clibcanary'],
    ['an empty module-name', 'module-name='],
  ])('%s: exit 9 before any lookup, not loaded', async (_name, module) => {
    const name = referenceWith(work, 'key.json', module, 'named.json');
    try {
      const invalid =
        /^keymint: the key reference holds an invalid PKCS#11 URI: module-name="[^"]*" is not a module name/;
      await refused(work, ['sign', '--key', name, 'payload.txt'], INPUT_INVALID, [invalid]);
    } finally {
      rmSync(join(work, name));
    }
  });

  it('module-path=/usr/lib/softhsm/../../..<canary>: ".." does not make it a system module: exit 19', async () => {
    const name = referenceWith(work, 'key.json', `module-path=/usr/lib/softhsm/../../..${canary.path}`, 'climb.json');
    try {
      await refused(work, ['sign', '--key', name, 'payload.txt'], UNTRUSTED, [untrustedMessage(canary.path)]);
    } finally {
      rmSync(join(work, name));
    }
  });

  it('a link in a writable directory: to the canary, exit 19; to the registered SoftHSM, signs with no setting', async () => {
    const links = join(work, 'links');
    mkdirSync(links);
    chmodSync(links, 0o777);
    symlinkSync(canary.path, join(links, 'libcanary.so'));
    symlinkSync(SOFTHSM_MODULE, join(links, 'libsofthsm2.so'));
    const toCanary = referenceWith(work, 'key.json', `module-path=${join(links, 'libcanary.so')}`, 'to-canary.json');
    const link = new RegExp(`\\(a link to ${escapeRegExp(canary.path)}\\)`);
    const named = untrustedMessage(join(links, 'libcanary.so'));
    await refused(work, ['sign', '--key', toCanary, 'payload.txt'], UNTRUSTED, [named, link]);

    // The same token and key through SoftHSM itself: the real file behind the link is registered with p11-kit.
    const loads = canary.loads();
    const toSoftHsm = referenceWith(
      work,
      'key.json',
      `module-path=${join(links, 'libsofthsm2.so')}`,
      'to-softhsm.json',
    );
    const result = await run(work, ['sign', '--key', toSoftHsm, 'payload.txt']);
    expectOk(result);
    await expectVerifies(result.stdout, work, PAYLOAD);
    expect(canary.loads()).toBe(loads);
  });

  it('KEYMINT_PKCS11_MODULES with a relative path: exit 2, naming it', async () => {
    const relative = /^keymint: KEYMINT_PKCS11_MODULES holds the relative path libcanary\.so: it lists absolute paths/;
    await expectFailure(work, SIGN, USAGE, [relative], {
      env: { ...NO_TRUST, KEYMINT_PKCS11_MODULES: 'libcanary.so' },
    });
  });
});

describe('keymint pkcs11 tokens and keys: the module on the command line is the choice of that run', () => {
  it('keymint pkcs11 --help says which modules keymint loads and names KEYMINT_PKCS11_MODULES', async () => {
    const help = await run(tempDir(), ['pkcs11', '--help']);
    expectOk(help);
    expect(help.stdout).toContain('The module: keymint loads one only if p11-kit registers it');
    expect(help.stdout).toContain('KEYMINT_PKCS11_MODULES=/path/a.so:/path/b.so');
  });

  it('create, tokens and keys with the canary on the command line load it; a key URI keys printed is data', async () => {
    const work = tempDir();
    const loads = canary.loads();
    const create = [
      'create',
      '--backend',
      'pkcs11',
      '--pkcs11-uri',
      canaryUri,
      '--kid',
      'listed',
      'key.pub.json',
      'key.json',
    ];
    expectOk(await run(work, create));
    const tokens = await run(work, ['pkcs11', 'tokens', '--pkcs11-module', canary.path]);
    expectOk(tokens);
    expect(tokens.stderr).toContain(`Module ${canary.path}: SoftHSM`);
    expect(tokens.stdout).toContain(`token "${TOKEN}"`);
    const keys = await run(work, ['pkcs11', 'keys', '--json', '--pkcs11-uri', canaryUri]);
    expectOk(keys);
    expect(canary.loads()).toBe(loads + 3);

    const listed = (
      JSON.parse(keys.stdout) as { keys: Array<{ details: { label: string; type: string; uri: string } }> }
    ).keys;
    const uri = listed.find((k) => k.details.label === 'listed' && k.details.type === 'private')?.details.uri;
    expect(uri).toContain(`module-path=${canary.path}`);
    writeFile(
      work,
      'pasted.json',
      JSON.stringify({ ...readJson<Reference>(join(work, 'key.json')), location: { uri } }),
    );
    writeFile(work, 'payload.txt', PAYLOAD);
    await refused(work, ['sign', '--key', 'pasted.json', 'payload.txt'], UNTRUSTED, [untrustedMessage(canary.path)]);
  });
});

describe('modules the system trusts need no setting', () => {
  // p11-kit forwards the token over a socket, as network HSM clients and containers do.
  const server = p11KitServer(SOFTHSM_MODULE, TOKEN, { SOFTHSM2_CONF: softhsm.conf });
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('p11-kit-client.so, root-only in /usr/lib/x86_64-linux-gnu/pkcs11: create, then sign from the reference', async () => {
    const work = tempDir();
    const env = server.env;
    const client = P11_KIT_CLIENT;
    const create = ['create', '--backend', 'pkcs11', '--pkcs11-uri', tokenUri(client), 'key.pub.json', 'key.json'];
    expectOk(await run(work, create, env));
    expect(readJson<Reference>(join(work, 'key.json')).location.uri).toContain(`module-path=${client}`);
    writeFile(work, 'payload.txt', 'over p11-kit');
    const signed = await run(work, SIGN, env);
    expectOk(signed);
    await expectVerifies(signed.stdout, work, 'over p11-kit');
  });

  it('a library in a general library directory is no module: a reference naming libz is refused, exit 19', async () => {
    const work = tempDir();
    const libz = '/usr/lib/x86_64-linux-gnu/libz.so.1';
    // The public JWK of RFC 7517 A.1: any valid reference will do, it is refused before its key is looked for.
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      alg: 'ES256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    };
    const uri = `pkcs11:token=${TOKEN};object=x;type=private?module-path=${libz}`;
    const reference = { type: 'keymint-key-reference', version: 1, backend: 'pkcs11', location: { uri }, jwk };
    writeFile(work, 'key.json', JSON.stringify(reference));
    writeFile(work, 'payload.txt', 'x');
    expectError(await run(work, SIGN), UNTRUSTED, untrustedMessage(libz));
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCanaryModule } from '../../packages/backend-pkcs11/test/fixtures/canary-module.js';
import { expectError, expectFailure, keymint, readJson, tempDir, writeFile, type Jwk, type RunResult } from '../helpers.js';
import { SOFTHSM_MODULE, startSoftHsm } from './softhsm.js';

/**
 * A key reference is a file people share: the PKCS#11 module its URI names is native code, and
 * keymint loads it only when the system (p11-kit's registry, a root-only module directory) or the
 * user (a flag, KEYMINT_PKCS11_MODULES) trusts it. Watched with a canary built here with cc: a
 * working module that forwards to SoftHSM and appends a line to a marker file whenever a process
 * loads it.
 */

const UNTRUSTED = 19;
const INPUT_INVALID = 9;
const USAGE = 2;
const TOKEN = 'e2e-trust';
const softhsm = startSoftHsm([TOKEN]);
const dir = mkdtempSync(join(tmpdir(), 'keymint-e2e-canary-'));
afterAll(() => {
  softhsm.remove();
  rmSync(dir, { recursive: true, force: true });
});
const canary = buildCanaryModule(dir);
/** Nothing from the test runner's environment may trust a module. */
const NO_TRUST = { KEYMINT_PKCS11_MODULES: '', KEYMINT_PKCS11_MODULE: '', KEYMINT_PKCS11_URI: '' };
const canaryUri = `pkcs11:token=${TOKEN}?module-path=${canary.path}&pin-source=file:${softhsm.pinFile}`;

interface Reference {
  location: { uri: string };
  jwk: Jwk;
}

function expectOk(result: RunResult): void {
  expect(result.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(result.code, `stderr: ${result.stderr}`).toBe(0);
}

/** Writes a copy of the reference `from` in `dir` whose URI's module is `module` (`module-path=...` or `module-name=...`). */
function referenceWith(work: string, from: string, module: string, name: string): string {
  const ref = readJson<Reference>(join(work, from));
  ref.location.uri = ref.location.uri.replace(/\?module-path=[^&]*/, `?${module}`);
  return writeFile(work, name, JSON.stringify(ref));
}

async function expectVerifies(jws: string, jwk: Jwk, payload: string): Promise<void> {
  const { payload: signed } = await compactVerify(jws.trim(), await importJWK(jwk, jwk.alg as string));
  expect(Buffer.from(signed).toString()).toBe(payload);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const untrustedMessage = (path: string) =>
  new RegExp(`^keymint: the PKCS#11 module ${escape(path)}( \\(a link to [^)]+\\))? is not trusted: .*; if you trust it, set KEYMINT_PKCS11_MODULES=${escape(path)} `);

describe('a key made on a module named on the command line, then used from its reference', () => {
  const work = mkdtempSync(join(tmpdir(), 'keymint-e2e-trust-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  writeFile(work, 'payload.txt', 'signed through the canary');

  it('create --pkcs11-uri ...module-path=<canary> loads it (the user chose it); sign --key <reference> in a new run: exit 19, never loaded; with KEYMINT_PKCS11_MODULES=<canary> it signs', async () => {
    expect(canary.loads()).toBe(0);
    expectOk(await keymint(['create', '--backend', 'pkcs11', '--pkcs11-uri', canaryUri, 'key.pub.json', 'key.json'], { cwd: work, env: NO_TRUST }));
    expect(canary.loads()).toBe(1);
    expect(readJson<Reference>(join(work, 'key.json')).location.uri).toContain(`?module-path=${canary.path}&`);

    const refused = await expectFailure(work, ['sign', '--key', 'key.json', 'payload.txt'], UNTRUSTED, [untrustedMessage(canary.path)], { env: NO_TRUST });
    expect(refused.stderr).toBe(
      `keymint: the PKCS#11 module ${canary.path} is not trusted: it is not registered with p11-kit, not in a system module directory and not named by you; ` +
        `if you trust it, set KEYMINT_PKCS11_MODULES=${canary.path} (or register it with p11-kit)\n`,
    );
    expect(canary.loads()).toBe(1);

    const signed = await keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: work, env: { ...NO_TRUST, KEYMINT_PKCS11_MODULES: `/opt/none.so:${canary.path}` } });
    expectOk(signed);
    expect(canary.loads()).toBe(2);
    await expectVerifies(signed.stdout, readJson<Jwk>(join(work, 'key.pub.json')), 'signed through the canary');
  });

  it('--pkcs11-uri on the sign command line trusts the module it names for that run, and no other', async () => {
    const softhsmUri = `pkcs11:token=${TOKEN}?module-path=${SOFTHSM_MODULE}&pin-source=file:${softhsm.pinFile}`;
    await expectFailure(work, ['sign', '--key', 'key.json', '--pkcs11-uri', softhsmUri, 'payload.txt'], UNTRUSTED, [untrustedMessage(canary.path)], { env: NO_TRUST });
    const result = await keymint(['sign', '--key', 'key.json', '--pkcs11-uri', canaryUri, 'payload.txt'], { cwd: work, env: NO_TRUST });
    expectOk(result);
    await expectVerifies(result.stdout, readJson<Jwk>(join(work, 'key.pub.json')), 'signed through the canary');
  });

  it.each([
    ['module-name climbing out of the module directories', `module-name=../../../..${canary.path.replace(/\.so$/, '')}`],
    ['module-name with a "/"', `module-name=${canary.path.replace(/\.so$/, '')}`],
    ['module-name with a "\\"', 'module-name=..%5Clibcanary'],
    ['an empty module-name', 'module-name='],
  ])('%s: exit 9 before any lookup, never loaded', async (_name, module) => {
    const before = canary.loads();
    const name = referenceWith(work, 'key.json', module, 'named.json');
    try {
      await expectFailure(work, ['sign', '--key', name, 'payload.txt'], INPUT_INVALID, [/^keymint: the key reference holds an invalid PKCS#11 URI: module-name="[^"]*" is not a module name: /], { env: NO_TRUST });
    } finally {
      rmSync(join(work, name));
    }
    expect(canary.loads()).toBe(before);
  });

  it('module-path=/usr/lib/softhsm/../../..<canary>: ".." does not get it into a system module directory: exit 19', async () => {
    const before = canary.loads();
    const name = referenceWith(work, 'key.json', `module-path=/usr/lib/softhsm/../../..${canary.path}`, 'climb.json');
    try {
      await expectFailure(work, ['sign', '--key', name, 'payload.txt'], UNTRUSTED, [untrustedMessage(canary.path)], { env: NO_TRUST });
    } finally {
      rmSync(join(work, name));
    }
    expect(canary.loads()).toBe(before);
  });

  it('a link in a writable directory: to the canary, exit 19; to the registered SoftHSM, it signs with no setting at all', async () => {
    const links = join(work, 'links');
    mkdirSync(links);
    chmodSync(links, 0o777);
    symlinkSync(canary.path, join(links, 'libcanary.so'));
    symlinkSync(SOFTHSM_MODULE, join(links, 'libsofthsm2.so'));
    const before = canary.loads();
    const toCanary = referenceWith(work, 'key.json', `module-path=${join(links, 'libcanary.so')}`, 'to-canary.json');
    await expectFailure(work, ['sign', '--key', toCanary, 'payload.txt'], UNTRUSTED, [untrustedMessage(join(links, 'libcanary.so')), new RegExp(`\\(a link to ${canary.path}\\)`)], { env: NO_TRUST });
    expect(canary.loads()).toBe(before);

    // The same token and key, reached through SoftHSM itself: the real file behind the link is registered with p11-kit.
    const toSoftHsm = referenceWith(work, 'key.json', `module-path=${join(links, 'libsofthsm2.so')}`, 'to-softhsm.json');
    const result = await keymint(['sign', '--key', toSoftHsm, 'payload.txt'], { cwd: work, env: NO_TRUST });
    expectOk(result);
    await expectVerifies(result.stdout, readJson<Jwk>(join(work, 'key.pub.json')), 'signed through the canary');
    expect(canary.loads()).toBe(before);
  });

  it('KEYMINT_PKCS11_MODULES with a relative path: exit 2, naming it', async () => {
    await expectFailure(work, ['sign', '--key', 'key.json', 'payload.txt'], USAGE, [/^keymint: KEYMINT_PKCS11_MODULES holds the relative path libcanary\.so: it lists absolute paths of modules; /], {
      env: { ...NO_TRUST, KEYMINT_PKCS11_MODULES: 'libcanary.so' },
    });
  });
});

describe('keymint pkcs11 tokens and keys: the module on the command line is the choice of that run', () => {
  it('create, tokens --pkcs11-module and keys --pkcs11-uri with the canary load it; a key URI that keys printed is data to a later sign', async () => {
    const work = tempDir();
    const before = canary.loads();
    expectOk(await keymint(['create', '--backend', 'pkcs11', '--pkcs11-uri', canaryUri, '--kid', 'listed', 'k.pub.json', 'k.json'], { cwd: work, env: NO_TRUST }));
    const tokens = await keymint(['pkcs11', 'tokens', '--pkcs11-module', canary.path], { cwd: work, env: NO_TRUST });
    expectOk(tokens);
    expect(tokens.stderr).toContain(`Module ${canary.path}: SoftHSM`);
    expect(tokens.stdout).toContain(`token "${TOKEN}"`);
    const keys = await keymint(['pkcs11', 'keys', '--json', '--pkcs11-uri', canaryUri], { cwd: work, env: NO_TRUST });
    expectOk(keys);
    expect(canary.loads()).toBe(before + 3);

    const listed = (JSON.parse(keys.stdout) as { keys: Array<{ label: string; type: string; uri: string }> }).keys.find((k) => k.label === 'listed' && k.type === 'private');
    expect(listed?.uri).toContain(`module-path=${canary.path}`);
    const ref = readJson<Reference>(join(work, 'k.json'));
    writeFile(work, 'pasted.json', JSON.stringify({ ...ref, location: { uri: listed?.uri } }));
    writeFile(work, 'p.txt', 'x');
    await expectFailure(work, ['sign', '--key', 'pasted.json', 'p.txt'], UNTRUSTED, [untrustedMessage(canary.path)], { env: NO_TRUST });
    expect(canary.loads()).toBe(before + 3);
  });
});

describe('modules the system trusts need no setting', () => {
  let server: ChildProcess | undefined;
  const runtime = mkdtempSync(join(tmpdir(), 'keymint-e2e-p11kit-'));
  const socket = join(runtime, 'p11-kit.sock');
  beforeAll(async () => {
    // p11-kit forwards the token over a socket, as network HSM clients and containers do.
    server = spawn('p11-kit', ['server', '-f', '-n', socket, '--provider', SOFTHSM_MODULE, `pkcs11:token=${TOKEN}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(() => {
    server?.kill();
    rmSync(runtime, { recursive: true, force: true });
  });

  it('p11-kit-client.so, in the root-only /usr/lib/x86_64-linux-gnu/pkcs11: create, then sign from the reference', async () => {
    const work = tempDir();
    const env = { ...NO_TRUST, P11_KIT_SERVER_ADDRESS: `unix:path=${socket}`, XDG_RUNTIME_DIR: runtime };
    const client = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';
    const uri = `pkcs11:token=${TOKEN}?module-path=${client}&pin-source=file:${softhsm.pinFile}`;
    expectOk(await keymint(['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, 'k.pub.json', 'k.json'], { cwd: work, env }));
    expect(readJson<Reference>(join(work, 'k.json')).location.uri).toContain(`module-path=${client}`);
    writeFile(work, 'p.txt', 'over p11-kit');
    const signed = await keymint(['sign', '--key', 'k.json', 'p.txt'], { cwd: work, env });
    expectOk(signed);
    await expectVerifies(signed.stdout, readJson<Jwk>(join(work, 'k.pub.json')), 'over p11-kit');
  });

  it('a module in a general library directory is not one: a reference naming libz is refused (exit 19) before loading', async () => {
    const work = tempDir();
    writeFile(work, 'ref.json', JSON.stringify({
      type: 'keymint-key-reference',
      version: 1,
      backend: 'pkcs11',
      location: { uri: `pkcs11:token=${TOKEN};object=x;type=private?module-path=/usr/lib/x86_64-linux-gnu/libz.so.1` },
      jwk: { kty: 'EC', crv: 'P-256', alg: 'ES256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
    }));
    writeFile(work, 'p.txt', 'x');
    expectError(await keymint(['sign', '--key', 'ref.json', 'p.txt'], { cwd: work, env: NO_TRUST }), UNTRUSTED, untrustedMessage('/usr/lib/x86_64-linux-gnu/libz.so.1'));
  });
});

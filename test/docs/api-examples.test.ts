import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers.js';
import { startKeyringSession, startSoftHsm, type KeyringSession, type SoftHsm } from '@keymint/test-kit';
import { uniqueService } from '../keychain/session.js';

/**
 * docs/api.md says its examples run as a test: here they do, every ```ts and ```js block, in the
 * order written, in one directory (later examples read the files earlier ones wrote), each in a
 * new Node process that imports the packages as a program would. The HSM example gets a SoftHSM2
 * token, the keychain example a real GNOME Keyring.
 */
const DOC = join(REPO, 'docs', 'api.md');
const blocks = [...readFileSync(DOC, 'utf8').matchAll(/^## (.+)$|^```(ts|js)\n([\s\S]*?)^```$/gm)]
  .reduce<{ section: string; lang: string; code: string }[]>((out, m) => {
    if (m[1] !== undefined) return out.concat({ section: m[1], lang: '', code: '' });
    const section = out.length === 0 ? '' : (out[out.length - 1] as { section: string }).section;
    return out.concat({ section, lang: m[2] as string, code: m[3] as string });
  }, [])
  .filter((b) => b.lang !== '');

let dir: string;
let softhsm: SoftHsm;
let keyring: KeyringSession;
const service = uniqueService('api-docs');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymint-api-docs-'));
  // The examples import the packages by name, as a program that installed them would.
  symlinkSync(join(REPO, 'test', 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  softhsm = startSoftHsm(['api-docs']);
  keyring = await startKeyringSession();
});

afterAll(async () => {
  await keyring?.stop();
  softhsm?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('docs/api.md: every example runs', () => {
  it('has the examples the API issue asks for', () => {
    const sections = new Set(blocks.map((b) => b.section));
    for (const wanted of [
      'Create a key and save it',
      'Load a key and sign a JWT and a client assertion',
      'Verify',
      'Encrypt and decrypt',
      'Make many keys at once',
      'A key in an HSM',
      'A key in the OS keychain',
      'CommonJS',
    ]) {
      expect(sections.has(wanted), wanted).toBe(true);
    }
  });

  it.each(blocks.map((b, i) => [`${i + 1}. ${b.section}`, b] as const))('%s', (_name, block) => {
    const file = join(dir, `example.${block.lang === 'js' ? 'cjs' : 'mjs'}`);
    writeFileSync(
      file,
      block.lang === 'ts'
        ? transformSync(block.code, { loader: 'ts', format: 'esm', target: 'node20' }).code
        : block.code,
    );
    const result = spawnSync(process.execPath, [file], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        ...keyring.env,
        SOFTHSM2_CONF: softhsm.conf,
        HSM_URI: softhsm.uri('api-docs'),
        KEYCHAIN_SERVICE: service,
      },
      timeout: 120_000,
    });
    expect(result.status, `${block.section}: ${result.stderr}`).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().length).toBeGreaterThan(0);
  });

  it('the examples did what they say', () => {
    expect(JSON.parse(readFileSync(join(dir, 'client.pub.json'), 'utf8'))).toMatchObject({
      kty: 'EC',
      kid: 'client-1',
      crv: 'P-256',
    });
    expect(JSON.parse(readFileSync(join(dir, 'client.json'), 'utf8'))).toHaveProperty('ciphertext');
    expect(JSON.parse(readFileSync(join(dir, 'hsm.json'), 'utf8'))).toMatchObject({
      type: 'keymint-key-reference',
      backend: 'pkcs11',
    });
    expect(JSON.parse(readFileSync(join(dir, 'desk.json'), 'utf8'))).toMatchObject({
      type: 'keymint-key-reference',
      backend: 'keychain',
    });
    expect(JSON.parse(readFileSync(join(dir, 'inbox.pub.json'), 'utf8'))).toMatchObject({
      kty: 'OKP',
      crv: 'X25519',
      use: 'enc',
      alg: 'ECDH-ES',
      kid: 'inbox-1',
    });
    expect(JSON.parse(readFileSync(join(dir, 'hsm-enc.json'), 'utf8'))).toMatchObject({
      backend: 'pkcs11',
      jwk: { use: 'enc', alg: 'RSA-OAEP-256', kid: 'hsm-enc' },
    });
  });
});

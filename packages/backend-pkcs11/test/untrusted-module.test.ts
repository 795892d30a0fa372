import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCanaryModule, rejection, useSoftHsm } from '@keymint/test-kit';
import { createKey, type KeymintError, type NewKey, type PrivatePart } from '@keymint/core';
import { formatPkcs11Uri, listTokens, parsePkcs11Uri, pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { expectSignsAndVerifies, referenceUri } from './fixtures/sign-check.js';

/**
 * A key reference is data: the module its URI names is loaded only when the system or the user
 * trusts it. Watched with a canary, a real PKCS#11 module built here with cc that forwards to
 * SoftHSM and appends a line to a marker file the moment anything loads it.
 */

const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.trust;
const PIN = softhsm.pin;
const dir = mkdtempSync(join(tmpdir(), 'keymint-canary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const canary = buildCanaryModule(dir);
/** Only the PIN: nothing in this process's environment may trust a module for these backends. */
const env = { KEYMINT_PKCS11_PIN: PIN };

let key: NewKey;
/** The key's reference with its module-path changed to `modulePath`: what anyone could send. */
function referenceTo(modulePath: string | undefined, moduleName?: string): PrivatePart {
  const { modulePath: _ignored, ...uri } = parsePkcs11Uri(referenceUri(key.private));
  const module = modulePath === undefined ? { moduleName } : { modulePath };
  const text = formatPkcs11Uri({ ...uri, ...module });
  return { kind: 'reference', reference: { backend: 'pkcs11', location: { uri: text } } };
}

async function refusal(options: Parameters<typeof pkcs11Backend>[0], part: PrivatePart): Promise<KeymintError> {
  const signer = await pkcs11Backend(options);
  try {
    return await rejection<KeymintError>(signer.sign(part, 'ES256', new Uint8Array(8)));
  } finally {
    await signer.close();
  }
}

beforeAll(async () => {
  const maker = await pkcs11Backend({ uri: softhsm.uri(TOKEN), env });
  try {
    key = await createKey(maker, { kty: 'EC', crv: 'P-256' });
  } finally {
    await maker.close();
  }
});

// In this order: a module, once loaded, stays mapped in the process, so the refusals come first.
describe('a key reference naming a module nobody trusts', () => {
  it('is refused before the module is loaded: ERR_MODULE_UNTRUSTED, naming it and KEYMINT_PKCS11_MODULES', async () => {
    const error = await refusal({ env }, referenceTo(canary.path));
    expect(error.code).toBe('ERR_MODULE_UNTRUSTED');
    expect(error.message).toMatch(new RegExp(`^the PKCS#11 module ${canary.path} is not trusted: `));
    expect(error.hint).toContain(`KEYMINT_PKCS11_MODULES=${canary.path}`);
    expect(canary.loads()).toBe(0);
  });

  it('cannot climb out of a system module directory with ".." in module-path', async () => {
    const error = await refusal({ env }, referenceTo(`/usr/lib/softhsm/../../..${canary.path}`));
    expect(error.code).toBe('ERR_MODULE_UNTRUSTED');
    expect(error.message).toContain(`the PKCS#11 module ${canary.path} is not trusted`);
    expect(canary.loads()).toBe(0);
  });

  it.each([
    ['a climb from the module directories', `../../../..${canary.path.replace(/\.so$/, '')}`],
    ['a path', canary.path.replace(/\.so$/, '')],
    ['empty', ''],
  ])('cannot reach it through module-name (%s): ERR_INPUT_INVALID before any lookup', async (_name, moduleName) => {
    const error = await refusal({ env }, referenceTo(undefined, moduleName));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toContain(
      `the key reference holds an invalid PKCS#11 URI: module-name=${JSON.stringify(moduleName)} is not a module name`,
    );
    expect(canary.loads()).toBe(0);
  });

  it('nor through a link under /tmp', async () => {
    const link = join(dir, 'link-to-canary.so');
    symlinkSync(canary.path, link);
    const error = await refusal({ env }, referenceTo(link));
    expect(error.code).toBe('ERR_MODULE_UNTRUSTED');
    expect(error.message).toContain(`${link} (a link to ${canary.path}) is not trusted`);
    expect(canary.loads()).toBe(0);
  });

  it('a module-path with a control character: still one line, the path quoted', async () => {
    const missing = await refusal({ env }, referenceTo(`${dir}/x\n.so`));
    expect(missing.message).toBe(`the PKCS#11 module ${JSON.stringify(`${dir}/x\n.so`)} does not exist`);
    writeFileSync(join(dir, 'y\u001b[2J.so'), 'not a module');
    const planted = await refusal({ env }, referenceTo(join(dir, 'y\u001b[2J.so')));
    expect(planted.code).toBe('ERR_MODULE_UNTRUSTED');
    expect(planted.message).toContain(
      `the PKCS#11 module ${JSON.stringify(join(dir, 'y\u001b[2J.so'))} is not trusted`,
    );
  });

  it('a link under /tmp to the registered SoftHSM is SoftHSM itself: it signs', async () => {
    const link = join(dir, 'link-to-softhsm.so');
    symlinkSync(softhsm.module, link);
    const signer = await pkcs11Backend({ env });
    try {
      await expectSignsAndVerifies(signer, { ...key, private: referenceTo(link) }, 'ES256');
    } finally {
      await signer.close();
    }
    expect(canary.loads()).toBe(0);
  });
});

describe('a module the user trusts', () => {
  it('KEYMINT_PKCS11_MODULES (a ":" list of absolute paths) trusts the modules it lists, and only those', async () => {
    const other = { ...env, KEYMINT_PKCS11_MODULES: `/nowhere/libx.so:${softhsm.module}` };
    expect((await refusal({ env: other }, referenceTo(canary.path))).code).toBe('ERR_MODULE_UNTRUSTED');
    expect(canary.loads()).toBe(0);
    const signer = await pkcs11Backend({ env: { ...env, KEYMINT_PKCS11_MODULES: `/nowhere/libx.so:${canary.path}` } });
    try {
      await expectSignsAndVerifies(signer, { ...key, private: referenceTo(canary.path) }, 'ES256');
    } finally {
      await signer.close();
    }
    expect(canary.loads()).toBe(1);
  });

  it("KEYMINT_PKCS11_MODULE and KEYMINT_PKCS11_URI's module are the user's choice; another module is not", async () => {
    const uriOf = (module: string) => `pkcs11:token=${TOKEN}?module-path=${module}`;
    const other = await refusal(
      { env: { ...env, KEYMINT_PKCS11_URI: uriOf(softhsm.module) } },
      referenceTo(canary.path),
    );
    expect(other.code).toBe('ERR_MODULE_UNTRUSTED');
    for (const trusting of [{ KEYMINT_PKCS11_MODULE: canary.path }, { KEYMINT_PKCS11_URI: uriOf(canary.path) }]) {
      const signer = await pkcs11Backend({ env: { ...env, ...trusting } });
      try {
        await expectSignsAndVerifies(signer, { ...key, private: referenceTo(canary.path) }, 'ES256');
      } finally {
        await signer.close();
      }
    }
  });

  it('pkcs11Backend({ trustedModules }) trusts the same file under any name, never another file', async () => {
    const toSoftHsm = join(dir, 'trusted-link-to-softhsm.so');
    symlinkSync(softhsm.module, toSoftHsm);
    const other = await refusal({ env, trustedModules: [toSoftHsm] }, referenceTo(canary.path));
    expect(other.code).toBe('ERR_MODULE_UNTRUSTED');
    const signer = await pkcs11Backend({ env, trustedModules: [join(dir, 'link-to-canary.so')] });
    try {
      await expectSignsAndVerifies(signer, { ...key, private: referenceTo(canary.path) }, 'ES256');
      await expectSignsAndVerifies(signer, { ...key, private: referenceTo(join(dir, 'link-to-canary.so')) }, 'ES256');
    } finally {
      await signer.close();
    }
  });

  it("the module of the backend's own URI is the caller's choice, for that backend only; listTokens' too", async () => {
    const pinFile = softhsm.pinFile;
    const uri = `pkcs11:token=${TOKEN}?module-path=${canary.path}&pin-source=file:${pinFile}`;
    const maker = await pkcs11Backend({ uri, env });
    let made: NewKey;
    try {
      made = await createKey(maker, { kty: 'EC', crv: 'P-256' });
      expect(parsePkcs11Uri(referenceUri(made.private)).modulePath).toBe(canary.path);
      await expectSignsAndVerifies(maker, made, 'ES256');
    } finally {
      await maker.close();
    }
    // The reference it wrote is data to the next backend.
    expect((await refusal({ env }, made.private!)).code).toBe('ERR_MODULE_UNTRUSTED');
    const listing = await listTokens({ modulePath: canary.path, env: {} });
    expect(listing.module.path).toBe(canary.path);
    expect(listing.slots.map((s) => s.token?.label)).toContain(TOKEN);
  });
});

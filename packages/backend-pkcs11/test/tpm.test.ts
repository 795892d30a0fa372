import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import graphene from 'graphene-pk11';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompactEncrypt, importJWK } from 'jose';
import { rejection, toolStatus, useSoftwareTpm, newKeyPair } from '@keymint/test-kit';
import {
  createKey,
  resolveKeySpec,
  supports,
  type Jwk,
  type KeyParamsInput,
  type KeyReference,
  type NewKey,
} from '@keymint/core';
import { decrypt, encrypt } from '@keymint/core/jose';
import { generateContext } from '@keymint/core/testing';
import { pkcs11Backend, type Pkcs11Backend } from '../src/index.js';
import { expectSignsAndVerifies } from './fixtures/sign-check.js';

const tpm = useSoftwareTpm();
const {
  uri,
  token: { label, pin },
} = tpm;
const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The handle of the private key labelled `label`, as the module loaded in this process numbers it. */
function privateHandle(label: string): string {
  const module = graphene.Module.load(tpm.module);
  try {
    module.initialize();
  } catch {
    // Initialized already by the backend: the same library, the same handles. Never finalized here.
  }
  const slot = [...module.getSlots(true)].find((s) => s.getToken().label.trim() === tpm.token.label);
  const session = slot!.open(graphene.SessionFlag.SERIAL_SESSION);
  try {
    const found = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label });
    expect(found.length).toBe(1);
    return found.items(0).handle.toString('hex');
  } finally {
    session.close();
  }
}

function referenceOf(key: NewKey): KeyReference {
  if (key.private?.kind !== 'reference') throw new Error('not a reference');
  return key.private.reference;
}

function tool(command: string, args: string[]): string {
  const out = toolStatus(command, args);
  return `${out.stdout}${out.stderr}`;
}

/** The TPM's dictionary-attack counter: every failed authorization (a wrong PIN) adds one. */
function lockoutCounter(): number {
  const value = /TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9a-fA-F]+)/.exec(tool('tpm2_getcap', ['properties-variable']))?.[1];
  if (value === undefined) throw new Error('tpm2_getcap printed no TPM2_PT_LOCKOUT_COUNTER');
  return Number.parseInt(value, 16);
}

describe('pkcs11 backend on a software TPM (swtpm + tpm2-abrmd + tpm2-pkcs11)', () => {
  let backend: Pkcs11Backend;
  beforeAll(async () => {
    backend = await pkcs11Backend({ uri, pin });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('declares what the TPM can do: EC P-256 and P-384, RSA to 3072; not Ed25519, RSA 4096 or P-521', () => {
    const can = (params: KeyParamsInput) => supports(backend.capabilities, resolveKeySpec(params));
    expect(backend.token?.module.manufacturer).toBe('tpm2-software.github.io');
    expect([
      can({ kty: 'EC', crv: 'P-256' }),
      can({ kty: 'EC', crv: 'P-384' }),
      can({ kty: 'RSA', size: 2048 }),
      can({ kty: 'RSA', size: 3072 }),
    ]).toEqual([true, true, true, true]);
    expect([
      can({ kty: 'OKP', crv: 'Ed25519' }),
      can({ kty: 'RSA', size: 4096 }),
      can({ kty: 'EC', crv: 'P-521' }),
    ]).toEqual([false, false, false]);
  });

  it('EC P-256: creates, signs ES256, and jose verifies; a fresh backend signs with the reference', async () => {
    const key = await createKey(backend, { kty: 'EC', crv: 'P-256' });
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: key.thumbprint });
    await expectSignsAndVerifies(backend, key, 'ES256');
    const fresh = await pkcs11Backend({ env: { KEYMINT_PKCS11_PIN: pin } });
    try {
      await expectSignsAndVerifies(fresh, key, 'ES256');
    } finally {
      await fresh.close();
    }
  });

  it('RSA 2048: creates, signs RS256 and PS256, and jose verifies', async () => {
    const key = await createKey(backend, { kty: 'RSA', size: 2048 });
    expect(Buffer.from(key.publicJwk!.n!, 'base64url')).toHaveLength(256);
    await expectSignsAndVerifies(backend, key, 'RS256');
    await expectSignsAndVerifies(backend, key, 'PS256');
  });

  it.each([
    ['Ed25519', { kty: 'OKP', crv: 'Ed25519' }, 'OKP Ed25519 EdDSA'],
    ['RSA 4096', { kty: 'RSA', size: 4096 }, 'RSA 4096 RS256'],
    ['P-521', { kty: 'EC', crv: 'P-521' }, 'EC P-521 ES512'],
  ] as const)('refuses %s before anything is made, naming the token', async (_name, params, described) => {
    const before = (await backend.listKeys()).length;
    expect((await rejection(createKey(backend, params))).code).toBe('ERR_ALG_NOT_SUPPORTED');
    const spec = resolveKeySpec(params);
    const error = await rejection(backend.generate(spec, generateContext(spec)));
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(error.message).toBe(
      `${described} keys are not supported by token "${label}" (serial 0000000000000000): it can make RSA 1024-3072, EC P-256, EC P-384`,
    );
    expect((await backend.listKeys()).length).toBe(before);
  });

  it("tpm2-pkcs11 gives a deleted key's handle to the next key it makes: the kept handle is checked, the deleted key is not found", async () => {
    // Without the check, the reference of the deleted key would sign with the next key made.
    const signer = await pkcs11Backend({ pin });
    try {
      const deleted = await createKey(backend, { kty: 'EC', crv: 'P-256', kid: 'tpm-handle-a' });
      await expectSignsAndVerifies(signer, deleted, 'ES256');
      const handleOfDeleted = privateHandle('tpm-handle-a');
      expect((await backend.delete!(referenceOf(deleted))).outcome).toBe('deleted');
      const next = await createKey(backend, { kty: 'EC', crv: 'P-256', kid: 'tpm-handle-b' });
      expect(privateHandle('tpm-handle-b')).toBe(handleOfDeleted);

      const error = await rejection(signer.sign(deleted.private!, 'ES256', new Uint8Array([1])));
      expect(error.code).toBe('ERR_KEY_NOT_FOUND');
      expect(error.message).toMatch(/has no private or secret key with label "tpm-handle-a" and id /);
      await expectSignsAndVerifies(signer, next, 'ES256');
    } finally {
      await signer.close();
    }
  });

  it('tpm2-pkcs11 reads its store when loaded: a key deleted by another process signs on in this one until the module is let go', async () => {
    const key = await createKey(backend, { kty: 'EC', crv: 'P-256', kid: 'tpm-other-process' });
    const signer = await pkcs11Backend({ pin });
    try {
      await expectSignsAndVerifies(signer, key, 'ES256');
      const args = [
        '--module',
        tpm.module,
        '--token-label',
        label,
        '--login',
        '--pin',
        pin,
        '--delete-object',
        '--label',
        'tpm-other-process',
      ];
      tool('pkcs11-tool', [...args, '--type', 'privkey']);
      tool('pkcs11-tool', [...args, '--type', 'pubkey']);
      // Not keymint's kept handle: a search of this process's module finds the key as well.
      expect((await backend.listKeys()).some((k) => k.label === 'tpm-other-process')).toBe(true);
      await expectSignsAndVerifies(signer, key, 'ES256');
    } finally {
      await signer.close();
    }
    // A process that loads the module now reads the store as it is.
    const script = `import('${join(PACKAGE, 'dist', 'index.js')}').then(async ({ pkcs11Backend }) => {
      const b = await pkcs11Backend({ pin: ${JSON.stringify(pin)} });
      await b.sign(${JSON.stringify(key.private)}, 'ES256', new Uint8Array([1])).then(() => console.log('signed'), (e) => console.log(e.code));
      await b.close();
    })`;
    expect(spawnSync(process.execPath, ['-e', script], { env: process.env, encoding: 'utf8' }).stdout.trim()).toBe(
      'ERR_KEY_NOT_FOUND',
    );
  });
});

describe('decryption on the software TPM', () => {
  let backend: Pkcs11Backend;
  beforeAll(async () => {
    backend = await pkcs11Backend({ uri, pin });
  });
  afterAll(async () => {
    await backend.close();
  });

  /** A JWE made by jose to the key's public JWK. */
  async function joseJwe(key: NewKey, alg: string, enc: string, text: string): Promise<string> {
    const publicKey = await importJWK(key.publicJwk as Parameters<typeof importJWK>[0], alg);
    return new CompactEncrypt(new TextEncoder().encode(text))
      .setProtectedHeader({ alg, enc, kid: key.kid as string })
      .encrypt(publicKey);
  }

  it.each([
    ['RSA-OAEP-256', 'A256GCM'],
    ['RSA-OAEP', 'A128CBC-HS256'],
  ])('RSA 2048 %s: a JWE made by jose decrypts inside the TPM (CKM_RSA_PKCS_OAEP)', async (alg, enc) => {
    const key = await createKey(backend, { kty: 'RSA', size: 2048, use: 'enc', alg: alg as 'RSA-OAEP' });
    const { plaintext } = await decrypt(await joseJwe(key, alg, enc, `decrypted in the TPM with ${alg}`), key);
    expect(Buffer.from(plaintext).toString()).toBe(`decrypted in the TPM with ${alg}`);
  });

  it('RSA1_5 (with subtle): a JWE made by keymint decrypts (CKM_RSA_PKCS)', async () => {
    const key = await createKey(backend, { kty: 'RSA', size: 2048, use: 'enc', alg: 'RSA1_5', subtle: true });
    const { compact } = await encrypt('PKCS#1 v1.5 in the TPM', key.publicJwk as Jwk, { subtle: true });
    expect(Buffer.from((await decrypt(compact, key, { subtle: true })).plaintext).toString()).toBe(
      'PKCS#1 v1.5 in the TPM',
    );
  });

  it('a decryption the TPM refuses (a changed encrypted key) is ERR_DECRYPT_FAILED, and the next one works (tpm2-pkcs11 left the operation active)', async () => {
    const key = await createKey(backend, { kty: 'RSA', size: 2048, use: 'enc' });
    const jwe = await joseJwe(key, 'RSA-OAEP-256', 'A256GCM', 'after a failure');
    const parts = jwe.split('.');
    const ek = Buffer.from(parts[1] as string, 'base64url');
    ek[10] = (ek[10] as number) ^ 0xff;
    parts[1] = ek.toString('base64url');
    expect((await rejection(decrypt(parts.join('.'), key))).code).toBe('ERR_DECRYPT_FAILED');
    expect((await rejection(decrypt(parts.join('.'), key))).code).toBe('ERR_DECRYPT_FAILED');
    expect(Buffer.from((await decrypt(jwe, key)).plaintext).toString()).toBe('after a failure');
  });

  it('EC keys cannot agree on a key here: the TPM has no CKM_ECDH1_DERIVE, and says so', async () => {
    expect((await rejection(createKey(backend, { kty: 'EC', crv: 'P-256', use: 'enc' }))).code).toBe(
      'ERR_ALG_NOT_SUPPORTED',
    );
    const signing = await createKey(backend, { kty: 'EC', crv: 'P-256' });
    const peer = newKeyPair('ec', { namedCurve: 'prime256v1' }).publicJwk as Jwk;
    const error = await rejection(backend.deriveSharedSecret!(signing.private!, peer));
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(error.message).toBe(
      `ECDH-ES is not supported by token "${label}" (serial 0000000000000000): it lacks the mechanism`,
    );
  });

  it('an RSA key made for signing cannot decrypt: the TPM refuses it', async () => {
    const signing = await createKey(backend, { kty: 'RSA', size: 2048 });
    const error = await rejection(
      backend.unwrapKey!(signing.private!, 'RSA-OAEP-256', new Uint8Array(256).fill(1), { cekLength: 32 }),
    );
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(error.message).toBe(
      `the key on token "${label}" (serial 0000000000000000) may not decrypt or derive (a key made for signing): it cannot be used for RSA-OAEP-256`,
    );
  });
});

// PKCS#11 logs in per process and token: these run once the backend above has closed its session,
// so that the token is logged out and each backend here must log in itself.
describe('PINs on the software TPM', () => {
  it('a wrong PIN fails at once: the TPM counts exactly one failed authorization', async () => {
    const before = lockoutCounter();
    const wrong = await pkcs11Backend({ uri, pin: '000000' });
    try {
      const error = await rejection(createKey(wrong, { kty: 'EC' }));
      expect(error.code).toBe('ERR_PIN_INCORRECT');
      expect(error.message).toBe(`token "${label}" (serial 0000000000000000) refused the PIN`);
    } finally {
      await wrong.close();
    }
    expect(lockoutCounter()).toBe(before + 1);
  });

  it('a locked PIN (the TPM in dictionary-attack lockout) is ERR_PIN_LOCKED, even with the right PIN', async () => {
    // swtpm allows 3 failed authorizations; pkcs11-tool makes the rest fail.
    for (let tries = 0; tries < 5 && !/inLockout:\s+1/.test(tool('tpm2_getcap', ['properties-variable'])); tries++) {
      tool('pkcs11-tool', ['--module', tpm.module, '--token-label', label, '--login', '--pin', '999999', '-O']);
    }
    expect(tool('tpm2_getcap', ['properties-variable'])).toMatch(/inLockout:\s+1/);
    const locked = await pkcs11Backend({ uri, pin });
    try {
      const error = await rejection(createKey(locked, { kty: 'EC' }));
      expect(error.code).toBe('ERR_PIN_LOCKED');
      expect(error.message).toContain(`token "${label}"`);
    } finally {
      await locked.close();
      tool('tpm2_dictionarylockout', ['--clear-lockout']);
    }
    expect(lockoutCounter()).toBe(0);
  });
});

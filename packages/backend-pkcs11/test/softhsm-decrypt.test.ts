import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactEncrypt, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection, useSoftHsm, newKeyPair } from '@keymint/test-kit';
import { createKey, type Jwk, type KeymintError, type NewKey } from '@keymint/core';
import { decrypt } from '@keymint/core/jose';
import { parsePkcs11Uri, pkcs11Backend, type Pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { referenceUri } from './fixtures/sign-check.js';

const softhsm = useSoftHsm();
const label = SOFTHSM_TOKENS.decrypt;
const pin = softhsm.pin;
const dir = mkdtempSync(join(tmpdir(), 'keymint-softhsm-decrypt-'));

async function joseJwe(key: NewKey, alg: string, enc: string, text: string): Promise<string> {
  const publicKey = await importJWK(key.publicJwk as Parameters<typeof importJWK>[0], alg);
  return new CompactEncrypt(new TextEncoder().encode(text)).setProtectedHeader({ alg, enc }).encrypt(publicKey);
}

describe('decryption on SoftHSM2', () => {
  let backend: Pkcs11Backend;
  beforeAll(async () => {
    backend = await pkcs11Backend({ uri: softhsm.uri(label) });
  });
  afterAll(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RSA-OAEP-256: SoftHSM 2.6 refuses OAEP with SHA-256 itself, and keymint decrypts on it all the same (raw RSA on the token, OAEP decoded in the host)', async () => {
    const key = await createKey(backend, { kty: 'RSA', size: 2048, use: 'enc', alg: 'RSA-OAEP-256' });
    // The token's own answer to CKM_RSA_PKCS_OAEP with SHA-256, asked by OpenSC's pkcs11-tool.
    const id = Buffer.from(parsePkcs11Uri(referenceUri(key.private)).id as Uint8Array).toString('hex');
    const input = join(dir, 'block.bin');
    writeFileSync(input, Buffer.alloc(256, 1));
    const asked = spawnSync(
      'pkcs11-tool',
      [
        '--module',
        softhsm.module,
        '--token-label',
        label,
        '--login',
        '--pin',
        pin,
        '--decrypt',
        '-m',
        'RSA-PKCS-OAEP',
        '--hash-algorithm',
        'SHA256',
        '--mgf',
        'MGF1-SHA256',
        '--id',
        id,
        '--input-file',
        input,
      ],
      { env: process.env, encoding: 'utf8' },
    );
    expect(asked.stderr).toMatch(/C_DecryptInit failed: rv = CKR_ARGUMENTS_BAD/);
    const jwe = await joseJwe(key, 'RSA-OAEP-256', 'A256GCM', 'OAEP with SHA-256 on SoftHSM2');
    expect(Buffer.from((await decrypt(jwe, key)).plaintext).toString()).toBe('OAEP with SHA-256 on SoftHSM2');
    // A changed encrypted key and a changed tag fail alike.
    const parts = jwe.split('.');
    const ek = Buffer.from(parts[1] as string, 'base64url');
    ek[3] = (ek[3] as number) ^ 1;
    const tag = Buffer.from(parts[4] as string, 'base64url');
    tag[3] = (tag[3] as number) ^ 1;
    const badKey = await rejection<KeymintError>(
      decrypt([parts[0], ek.toString('base64url'), ...parts.slice(2)].join('.'), key),
    );
    const badTag = await rejection<KeymintError>(
      decrypt([...parts.slice(0, 4), tag.toString('base64url')].join('.'), key),
    );
    expect([badKey.code, badKey.message]).toEqual([badTag.code, badTag.message]);
    expect(badKey.code).toBe('ERR_DECRYPT_FAILED');
  });

  it('RSA-OAEP (SHA-1) on the token itself, and a fresh backend decrypts with the reference alone', async () => {
    const key = await createKey(backend, { kty: 'RSA', size: 3072, use: 'enc', alg: 'RSA-OAEP' });
    const fresh = await pkcs11Backend({ env: { KEYMINT_PKCS11_PIN: pin } });
    try {
      const jwe = await joseJwe(key, 'RSA-OAEP', 'A128CBC-HS256', 'a reference alone');
      expect(Buffer.from((await decrypt(jwe, { ...key, backend: fresh })).plaintext).toString()).toBe(
        'a reference alone',
      );
    } finally {
      await fresh.close();
    }
  });

  it('an EC key made for signing cannot derive: CKA_DERIVE is false, and the backend says so before the token is asked', async () => {
    const signing = await createKey(backend, { kty: 'EC', crv: 'P-384' });
    const peer = newKeyPair('ec', { namedCurve: 'secp384r1' }).publicJwk as Jwk;
    const error = await rejection<KeymintError>(backend.deriveSharedSecret!(signing.private!, peer));
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(error.message).toMatch(
      /may not decrypt or derive \(a key made for signing\): it cannot be used for ECDH-ES$/,
    );
  });

  it('an AES key on the token is refused for JWE decryption by name, before the token is asked (exit 4 in the CLI)', async () => {
    const aes = await createKey(backend, { kty: 'oct', size: 256, use: 'enc', alg: 'A256KW' });
    const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');
    const jwe = [
      b64(JSON.stringify({ alg: 'A256KW', enc: 'A256GCM' })),
      b64(new Uint8Array(40)),
      b64(new Uint8Array(12)),
      b64('ciphertext'),
      b64(new Uint8Array(16)),
    ].join('.');
    const error = await rejection<KeymintError>(decrypt(jwe, aes));
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(error.message).toMatch(
      /^A256KW is not supported by token .*: keymint decrypts JWEs with the RSA and EC keys of a token, not with its secret keys$/,
    );
  });
});

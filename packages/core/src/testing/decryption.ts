import { createECDH, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { CompactEncrypt, importJWK } from 'jose';
import { expect } from 'vitest';
import { KEY_OPERATIONS, supports, type KeyBackend, type KeyOperation } from '../backend.js';
import type { CreatedKey, NewKey } from '../create-key.js';
import { ErrorCode, isKeymintError, type KeymintError } from '../errors.js';
import { CONTENT_ENCRYPTION_ALGORITHMS, keyManagementOf } from '../jwe-algorithms.js';
import { decrypt } from '../jwe-decrypt.js';
import { encrypt } from '../jwe-encrypt.js';
import { toPublicJwk, type Jwk } from '../jwk.js';
import type { OpenedKey } from '../open-key.js';
import { resolveKeySpec, type KeyParams } from '../params.js';
import type { ConformanceOptions } from './conformance.js';

/** A P-256 private JWK made here, with createECDH (no keygen job: see ../ephemeral-keys.ts). */
export function foreignEcJwk(): Jwk {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys();
  const d = ecdh.getPrivateKey();
  return {
    kty: 'EC',
    crv: 'P-256',
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33).toString('base64url'),
    d: Buffer.concat([Buffer.alloc(32 - d.length), d]).toString('base64url'),
  };
}

async function refusal(promise: Promise<unknown>): Promise<KeymintError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isKeymintError(error), `expected a KeymintError, got ${String(error)}`).toBe(true);
  expect((error as KeymintError).message).not.toMatch(/\n/);
  return error as KeymintError;
}

/** The operation a key management algorithm needs of the backend. */
function operationFor(alg: string): KeyOperation {
  const mode = keyManagementOf(alg)?.mode;
  return mode === 'ecdh' || mode === 'ecdh-kw' ? 'deriveSharedSecret' : 'unwrapKey';
}

function offers(backend: KeyBackend, operation: KeyOperation): boolean {
  return backend.capabilities.keyOperations?.includes(operation) ?? false;
}

/** The secret of an oct key whose JWK is in hand, else undefined (a key kept in a token or keychain). */
function secretJwk(key: NewKey): Jwk | undefined {
  const priv = key.private;
  return priv?.kind === 'jwk' && typeof priv.jwk.k === 'string' ? priv.jwk : undefined;
}

const DIR_ENC: Record<number, string> = {
  128: 'A128GCM',
  192: 'A192GCM',
  256: 'A256GCM',
  384: 'A192CBC-HS384',
  512: 'A256CBC-HS512',
};

/**
 * A JWE to the key, made by jose where jose has the algorithm (keymint's own encrypt for RSA1_5,
 * X448 and secp256k1, which jose 6 lacks); undefined for a secret key that cannot be read.
 */
async function jweFor(key: NewKey, alg: string, enc: string, payload: string): Promise<string | undefined> {
  const target = key.spec.kty === 'oct' ? secretJwk(key) : key.publicJwk;
  if (target === undefined) return undefined;
  if (alg === 'RSA1_5' || target.crv === 'X448' || target.crv === 'secp256k1') {
    return (await encrypt(payload, target, { alg, enc, subtle: true })).compact;
  }
  const joseKey = await importJWK(target as Parameters<typeof importJWK>[0], alg);
  const header = { alg, enc, ...(key.kid === undefined ? {} : { kid: key.kid }) };
  return new CompactEncrypt(new TextEncoder().encode(payload)).setProtectedHeader(header).encrypt(joseKey);
}

let round = 0;

/**
 * A key made for encryption decrypts a JWE made to it (by jose where it can), through the backend's
 * key operation, when the backend declares it; a backend that does not is refused by name. A
 * secret key the backend keeps (no JWE can be made to it from outside) fails cleanly.
 */
export async function checkDecrypts(backend: KeyBackend, key: NewKey, alg: string): Promise<void> {
  const bits = key.spec.size;
  const next = CONTENT_ENCRYPTION_ALGORITHMS[round++ % CONTENT_ENCRYPTION_ALGORITHMS.length] as string;
  const enc = alg === 'dir' ? (DIR_ENC[bits ?? 0] as string) : next;
  const payload = `keymint conformance: ${alg} ${enc}`;
  const opened = key as CreatedKey;
  const jwe = await jweFor(key, alg, enc, payload);
  if (jwe === undefined) {
    // No JWE can be made to a secret the backend keeps: one made to another secret must fail cleanly.
    const other = { kty: 'oct', k: Buffer.from(randomBytes((bits ?? 256) / 8)).toString('base64url') };
    const stranger = (await encrypt(payload, other, { alg, enc })).compact;
    const error = await refusal(decrypt(stranger, opened, { subtle: true }));
    expect([ErrorCode.DECRYPT_FAILED, ErrorCode.ALG_NOT_SUPPORTED]).toContain(error.code);
    return;
  }
  if (!offers(backend, operationFor(alg))) {
    expect((await refusal(decrypt(jwe, opened, { subtle: true }))).code).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    return;
  }
  const result = await decrypt(jwe, opened, { subtle: true });
  expect(Buffer.from(result.plaintext).toString('utf8')).toBe(payload);
  expect(result).toMatchObject({ alg, enc });
  // Changed after it was made, it does not decrypt: one error, whatever step found it.
  const parts = jwe.split('.');
  const tag = Buffer.from(parts[4] as string, 'base64url');
  tag[0] = (tag[0] as number) ^ 1;
  parts[4] = tag.toString('base64url');
  expect((await refusal(decrypt(parts.join('.'), opened, { subtle: true }))).code).toBe(ErrorCode.DECRYPT_FAILED);
  if (keyManagementOf(alg)?.mode === 'rsa' && key.private !== undefined) {
    // An encrypted key of all ones, as long as the modulus and above it, cannot be for this key:
    // asked directly, the backend fails cleanly; through decrypt, it is the one error.
    const ones = new Uint8Array(Buffer.from(String(key.publicJwk?.n), 'base64url').length).fill(0xff);
    const direct = await refusal(backend.unwrapKey!(key.private, alg, ones, { cekLength: 32 }));
    expect(direct.code, direct.message).toBe(ErrorCode.DECRYPT_FAILED);
    parts[1] = Buffer.from(ones).toString('base64url');
    expect((await refusal(decrypt(parts.join('.'), opened, { subtle: true }))).code).toBe(ErrorCode.DECRYPT_FAILED);
  }
}

/** Each key operation the backend has is declared, and each declared one is there. */
export function expectKeyOperationsDeclared(backend: KeyBackend): void {
  for (const operation of KEY_OPERATIONS) {
    const declared = offers(backend, operation);
    expect(typeof backend[operation] === 'function', `${operation}: declared ${String(declared)}`).toBe(declared);
  }
}

/**
 * A key made for signing cannot decrypt, asked directly (the backend or its token refuses), and an
 * algorithm of another key type is refused as not supported.
 */
export async function expectSigningKeysRefused(
  backend: KeyBackend,
  make: (params: KeyParams) => Promise<NewKey>,
): Promise<void> {
  for (const [params, operation] of [
    [{ kty: 'RSA', size: 2048, use: 'sig', alg: 'RS256' }, 'unwrapKey'],
    [{ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' }, 'deriveSharedSecret'],
  ] as const) {
    if (!offers(backend, operation) || !supports(backend.capabilities, resolveKeySpec(params))) continue;
    const key = await make(params);
    const priv = key.private;
    if (priv === undefined) continue;
    if (operation === 'unwrapKey') {
      const error = await refusal(
        backend.unwrapKey!(priv, 'RSA-OAEP', new Uint8Array(randomBytes(256)), { cekLength: 32 }),
      );
      expect(error.code, error.message).toBe(ErrorCode.ALG_NOT_SUPPORTED);
      const otherType = await refusal(
        backend.unwrapKey!(priv, 'A128KW', new Uint8Array(randomBytes(24)), { cekLength: 16 }),
      );
      expect(otherType.code).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    } else {
      const peer = toPublicJwk(foreignEcJwk());
      const error = await refusal(backend.deriveSharedSecret!(priv, peer));
      expect(error.code, error.message).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    }
    // Core refuses it first, before the backend is asked.
    const encAlg = operation === 'unwrapKey' ? 'RSA-OAEP' : 'ECDH-ES';
    const jwe = (await encrypt('x', { ...(key.publicJwk as Jwk), use: 'enc', alg: encAlg })).compact;
    expect((await refusal(decrypt(jwe, key as OpenedKey))).message).toMatch(/is for signing/);
  }
}

/** The first key type the backend declares for encryption with a public key, to decrypt in a new process. */
export function encryptionParams(backend: KeyBackend, cases: readonly { params: KeyParams }[]): KeyParams | undefined {
  return cases
    .map((c) => c.params)
    .find((p) => {
      const spec = resolveKeySpec(p);
      if (spec.use !== 'enc' || spec.kty === 'oct') return false;
      return supports(backend.capabilities, spec) && offers(backend, operationFor(spec.alg as string));
    });
}

/** Reads `privateFile` and decrypts `jwe` in a new Node process that makes the backend afresh; returns the plaintext. */
export function decryptInNewProcess(reload: ConformanceOptions['reload'], privateFile: string, jwe: string): string {
  const script = `
    const [coreUrl, joseUrl, moduleUrl, optionsJson, text, jwe] = process.argv.slice(1);
    const core = await import(coreUrl);
    const { decrypt } = await import(joseUrl);
    const { default: factory } = await import(moduleUrl);
    const backend = await factory(JSON.parse(optionsJson));
    try {
      const doc = core.parseKeyDocument(text, 'the key file');
      const key = await core.openPrivateKey(doc, { source: 'the key file', backends: async () => backend });
      process.stdout.write(Buffer.from((await decrypt(jwe, key, { subtle: true })).plaintext).toString('utf8'));
    } finally {
      await backend.close();
    }`;
  const moduleUrl = reload.module instanceof URL ? reload.module.href : pathToFileURL(reload.module).href;
  const coreUrl = new URL('../index.js', import.meta.url).href;
  const joseUrl = new URL('../exports/jose.js', import.meta.url).href;
  const args = [
    '--input-type=module',
    '-e',
    script,
    coreUrl,
    joseUrl,
    moduleUrl,
    JSON.stringify(reload.options ?? {}),
    privateFile,
    jwe,
  ];
  const result = spawnSync(process.execPath, args, { env: { ...process.env, ...reload.env }, encoding: 'utf8' });
  expect(result.status, `the new process failed: ${result.stderr}`).toBe(0);
  return result.stdout;
}

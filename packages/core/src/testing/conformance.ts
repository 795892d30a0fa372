import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  publicEncrypt,
  privateDecrypt,
  constants,
  randomBytes,
} from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { agreeOnCurve, newMontgomeryKey } from '../ephemeral-keys.js';
import {
  BACKEND_OPERATIONS,
  supports,
  type KeyBackend,
  type KeyReference,
  type PrivatePart,
  type StoredKey,
} from '../backend.js';
import { createKey, keyFiles, type NewKey } from '../create-key.js';
import { ErrorCode, type KeymintError, isKeymintError } from '../errors.js';
import { isPrivateJwk, toPublicJwk, type Jwk } from '../jwk.js';
import { resolveKeySpec, type KeyParams } from '../params.js';
import { thumbprint } from '../thumbprint.js';
import { conformanceCases } from './cases.js';
import { verifyCompactJws } from '../verify.js';
import {
  checkDecrypts,
  decryptInNewProcess,
  encryptionParams,
  expectKeyOperationsDeclared,
  expectSigningKeysRefused,
  foreignEcJwk,
} from './decryption.js';
import { encrypt } from '../jwe-encrypt.js';

export interface ConformanceOptions {
  /** RSA sizes to try: every algorithm at the first, RS256 at the rest. Default 2048, 3072, 4096. */
  rsaSizes?: readonly number[];
  /** Per-case timeout in ms (token key generation can be slow). Default 120000. */
  timeout?: number;
  /**
   * How a new process makes the same backend: a module (path or file URL) whose default export is
   * the factory, the options to call it with (JSON), and the environment to run in. With it the
   * suite checks that a key's file survives write, read and sign in another process.
   */
  reload: { module: string | URL; options?: Record<string, unknown>; env?: Record<string, string | undefined> };
}

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

async function expectRejected(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isKeymintError(error), `expected a KeymintError ${code}, got ${String(error)}`).toBe(true);
  expect((error as KeymintError).code).toBe(code);
  expect((error as KeymintError).message).not.toMatch(/\n/);
}

/** Checks that the public key and the private JWK are the two halves of one key pair. */
function expectPairMatches(publicJwk: Jwk, privateJwk: Jwk): void {
  const pub = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const priv = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  const derived = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  expect(Buffer.compare(derived, pub.export({ format: 'der', type: 'spki' }))).toBe(0);
  if (publicJwk.kty === 'RSA') {
    const secret = randomBytes(32);
    const sealed = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
    expect(
      privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, sealed).equals(
        secret,
      ),
    ).toBe(true);
  } else if (publicJwk.crv === 'X25519' || publicJwk.crv === 'X448' || publicJwk.kty === 'EC') {
    const type = publicJwk.kty === 'EC' ? 'ec' : (String(publicJwk.crv).toLowerCase() as 'x25519');
    const namedCurve = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp256k1: 'secp256k1' }[
      String(publicJwk.crv)
    ];
    // The other side's key is made without generateKeyPairSync (see ../ephemeral-keys.ts).
    if (type === 'ec') {
      const other = agreeOnCurve(namedCurve as string, publicJwk);
      const otherJwk = {
        kty: 'EC',
        crv: publicJwk.crv,
        x: other.x.toString('base64url'),
        y: other.y.toString('base64url'),
      };
      const ours = diffieHellman({ privateKey: priv, publicKey: createPublicKey({ key: otherJwk, format: 'jwk' }) });
      expect(ours.equals(other.z)).toBe(true);
    } else {
      const other = newMontgomeryKey(publicJwk.crv as 'X25519' | 'X448');
      const ours = diffieHellman({ privateKey: priv, publicKey: createPublicKey(other) });
      const theirs = diffieHellman({ privateKey: other, publicKey: pub });
      expect(ours.equals(theirs)).toBe(true);
    }
  }
}

/** The private key file keymint writes for `key`, unencrypted: what a new process reads. */
async function privateFileOf(key: NewKey): Promise<string> {
  const { files } = await keyFiles(key, { publicPath: 'public.json', privatePath: 'private.json', password: null });
  return files.find((f) => f.path === 'private.json')?.content as string;
}

/**
 * Registers the conformance tests for a backend: for every kind of key in keymint's table, the
 * backend either declares it and makes a valid key (public part matching the private part, kid
 * the RFC 7638 thumbprint, signatures that verify with jose, JWEs made by jose that decrypt when
 * the backend offers decryption), or rejects it with ERR_ALG_NOT_SUPPORTED.
 */
export function describeBackendConformance(
  name: string,
  factory: () => Promise<KeyBackend>,
  options: ConformanceOptions,
): void {
  const timeout = options.timeout ?? 120_000;
  describe(`backend conformance: ${name}`, () => {
    let backend: KeyBackend;
    beforeAll(async () => {
      backend = await factory();
    }, timeout);
    afterAll(async () => {
      await backend?.close();
      await backend?.close(); // close is idempotent
    });

    it('has a name and declares at least one key type', () => {
      expect(backend.name).toMatch(/^[a-z0-9-]+$/);
      expect(backend.capabilities.keyTypes.length).toBeGreaterThan(0);
    });

    it('rejects invalid parameters before the backend is asked', async () => {
      await expectRejected(createKey(backend, { kty: 'EC', size: 2048 }), ErrorCode.PARAM_INVALID);
      await expectRejected(createKey(backend, { kty: 'RSA', crv: 'P-256' }), ErrorCode.PARAM_INVALID);
      await expectRejected(createKey(backend, { kty: 'EC', crv: 'P-256', alg: 'ES384' }), ErrorCode.PARAM_INVALID);
    });

    for (const testCase of conformanceCases(options.rsaSizes)) {
      const spec = resolveKeySpec(testCase.params);
      it(
        `${testCase.name}: created or rejected as declared`,
        async () => {
          if (!supports(backend.capabilities, spec)) {
            await expectRejected(createKey(backend, testCase.params), ErrorCode.ALG_NOT_SUPPORTED);
            return;
          }
          const key = await createKey(backend, testCase.params);
          await checkKey(backend, key, spec.alg as string);
        },
        timeout,
      );
    }

    it('declares exactly the optional operations it has', () => {
      for (const operation of BACKEND_OPERATIONS) {
        const declared = backend.capabilities.operations?.includes(operation) ?? false;
        expect(typeof backend[operation] === 'function', `${operation}: declared ${String(declared)}`).toBe(declared);
      }
    });

    it('declares exactly the key operations (decryption) it has', () => {
      expectKeyOperationsDeclared(backend);
    });

    it(
      'a key made for signing cannot decrypt: core refuses it, and so does the backend when asked directly',
      async () => {
        await expectSigningKeysRefused(backend, (params) => createKey(backend, params));
      },
      timeout,
    );

    it(
      'a key for encryption written to its file decrypts in a new process, when the backend decrypts',
      async () => {
        const params = encryptionParams(backend, conformanceCases([2048]));
        if (params === undefined) return;
        const key = await createKey(backend, params);
        const privateFile = await privateFileOf(key);
        const { compact } = await encrypt('decrypted in another process', key.publicJwk as Jwk, { subtle: true });
        expect(decryptInNewProcess(options.reload, privateFile, compact)).toBe('decrypted in another process');
      },
      timeout,
    );

    it(
      "refuses another backend's key cleanly, and a private JWK if it keeps its keys",
      async () => {
        const data = new TextEncoder().encode('a.b');
        const foreign: PrivatePart = {
          kind: 'reference',
          reference: { backend: `not-${backend.name}`, location: { id: 'x' } },
        };
        await expectRefused(backend.sign(foreign, 'ES256', data));
        if (!backend.capabilities.exportable) {
          const jwk = foreignEcJwk();
          await expectRefused(backend.sign({ kind: 'jwk', jwk }, 'ES256', data));
        }
        if (backend.delete !== undefined)
          await expectRejected(backend.delete(foreign.reference), ErrorCode.INPUT_INVALID);
      },
      timeout,
    );

    it(
      'a key written to its file is read and signs in a new process',
      async () => {
        const params = signingParams(backend);
        const key = await createKey(backend, params);
        const privateFile = await privateFileOf(key);
        const header = b64(JSON.stringify({ alg: key.spec.alg }));
        const signingInput = `${header}.${b64('signed in another process')}`;
        const signature = signInNewProcess(options.reload, privateFile, key.spec.alg as string, signingInput);
        expect(
          (await verifyCompactJws(`${signingInput}.${signature}`, key.publicJwk as Jwk, key.spec.alg as string)).valid,
        ).toBe(true);
      },
      timeout,
    );

    it(
      'describes itself, when it offers describe',
      async () => {
        if (backend.describe === undefined) return;
        const description = await backend.describe();
        expect(description.summary).toMatch(/\S/);
        expect(description.summary).not.toMatch(/\n/);
        expect(Array.isArray(description.lines)).toBe(true);
        expect(JSON.parse(JSON.stringify(description.details))).toEqual(description.details);
      },
      timeout,
    );

    it(
      'lists the keys it holds and deletes them by reference and by id, when it offers list and delete',
      async () => {
        if (backend.list === undefined) return;
        const params = signingParams(backend);
        const key = await createKey(backend, params);
        const listed = (await backend.list()).keys.find((k) => k.kid === key.kid);
        expect(listed, `key ${String(key.kid)} is listed`).toMatchObject({ status: 'ok', kty: key.spec.kty });
        expect(JSON.parse(JSON.stringify(await backend.list()))).toBeDefined();
        if (backend.delete === undefined) return;
        const reference =
          (key.private as PrivatePart).kind === 'reference'
            ? (key.private as { reference: KeyReference }).reference
            : undefined;
        const declined = await backend.delete(reference ?? (listed as StoredKey).id, { confirm: () => false });
        expect(declined.outcome).toBe('declined');
        expect((await backend.list()).keys.some((k) => k.kid === key.kid)).toBe(true);
        expect((await backend.delete(reference ?? (listed as StoredKey).id)).outcome).toBe('deleted');
        expect((await backend.list()).keys.some((k) => k.kid === key.kid && k.status === 'ok')).toBe(false);
        if (reference !== undefined)
          await expectRejected(
            backend.sign({ kind: 'reference', reference }, key.spec.alg as string, new Uint8Array([1])),
            ErrorCode.KEY_NOT_FOUND,
          );
        await expectRejected(backend.delete(reference ?? (listed as StoredKey).id), ErrorCode.KEY_NOT_FOUND);
        // By the id that list gives.
        const other = await createKey(backend, params);
        const entry = (await backend.list()).keys.find((k) => k.kid === other.kid) as StoredKey;
        expect((await backend.delete(entry.id)).outcome).toBe('deleted');
      },
      timeout,
    );
  });
}

/** The first key type the backend declares that signs and has a public key: what the process and list checks use. */
function signingParams(backend: KeyBackend): KeyParams {
  for (const testCase of conformanceCases([2048])) {
    const spec = resolveKeySpec(testCase.params);
    if (spec.use === 'sig' && spec.kty !== 'oct' && supports(backend.capabilities, spec)) return testCase.params;
  }
  throw new Error(`backend ${backend.name} declares no signing key type with a public key`);
}

/** Reads `privateFile` and signs `signingInput` in a new Node process that makes the backend afresh. */
function signInNewProcess(
  reload: ConformanceOptions['reload'],
  privateFile: string,
  alg: string,
  signingInput: string,
): string {
  const script = `
    const [coreUrl, moduleUrl, optionsJson, text, alg, input] = process.argv.slice(1);
    const core = await import(coreUrl);
    const { default: factory } = await import(moduleUrl);
    const backend = await factory(JSON.parse(optionsJson));
    try {
      const doc = core.parseKeyDocument(text, 'the key file');
      const key = await core.openPrivateKey(doc, { source: 'the key file', backends: async (name) => {
        if (name !== backend.name) throw new Error('the file names backend ' + name);
        return backend;
      } });
      const signature = await backend.sign(key.private, alg, new TextEncoder().encode(input));
      process.stdout.write(Buffer.from(signature).toString('base64url'));
    } finally {
      await backend.close();
    }`;
  const moduleUrl = reload.module instanceof URL ? reload.module.href : pathToFileURL(reload.module).href;
  const coreUrl = new URL('../index.js', import.meta.url).href;
  const result = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      script,
      coreUrl,
      moduleUrl,
      JSON.stringify(reload.options ?? {}),
      privateFile,
      alg,
      signingInput,
    ],
    {
      env: { ...process.env, ...reload.env },
      encoding: 'utf8',
    },
  );
  expect(result.status, `the new process failed: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** A clean refusal: a KeymintError of any code, on one line. */
async function expectRefused(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isKeymintError(error), `expected a KeymintError, got ${String(error)}`).toBe(true);
  expect((error as KeymintError).message).not.toMatch(/\n/);
}

async function checkKey(backend: KeyBackend, key: NewKey, alg: string): Promise<void> {
  const { spec } = key;
  const priv = key.private;
  expect(priv, 'a new key has a private part').toBeDefined();
  if (priv === undefined) return;
  expect(priv.kind).toBe(backend.capabilities.exportable ? 'jwk' : 'reference');
  if (priv.kind === 'reference') expect(priv.reference.backend).toBe(backend.name);

  if (spec.kty === 'oct') {
    expect(key.publicJwk).toBeUndefined();
    expect(key.kid).toBeUndefined();
    if (priv.kind === 'jwk') expect(Buffer.from(priv.jwk.k ?? '', 'base64url').length * 8).toBe(spec.size);
  } else {
    const pub = key.publicJwk as Jwk;
    expect(pub.kty).toBe(spec.kty);
    if (spec.crv !== undefined) expect(pub.crv).toBe(spec.crv);
    expect(isPrivateJwk(pub)).toBe(false);
    expect(pub.kid).toBe(await thumbprint(pub));
    expect(key.thumbprint).toBe(pub.kid);
    if (spec.kty === 'RSA') expect(Buffer.from(pub.n ?? '', 'base64url').length * 8).toBe(spec.size);
    createPublicKey({ key: pub as JsonWebKey, format: 'jwk' }); // OpenSSL accepts the point / modulus
    if (priv.kind === 'jwk') {
      expect(toPublicJwk(priv.jwk)).toEqual(pub);
      expectPairMatches(pub, priv.jwk);
    }
  }
  for (const half of [key.publicJwk, priv.kind === 'jwk' ? priv.jwk : undefined]) {
    if (half === undefined) continue;
    expect(half.use).toBe(spec.use);
    expect(half.alg).toBe(alg);
  }

  if (spec.use === 'enc') await checkDecrypts(backend, key, alg);
  if (spec.use !== 'sig') return;
  const header = b64(JSON.stringify({ alg, ...(key.kid === undefined ? {} : { kid: key.kid }) }));
  const payload = b64('keymint conformance payload');
  const signingInput = new TextEncoder().encode(`${header}.${payload}`);
  const signature = await backend.sign(priv, alg, signingInput);
  const jws = `${header}.${payload}.${b64(signature)}`;
  const verifyingKey = spec.kty === 'oct' ? (priv.kind === 'jwk' ? priv.jwk : undefined) : key.publicJwk;
  if (verifyingKey === undefined) {
    // A secret that never leaves its token cannot be checked from outside; HMAC is deterministic.
    expect(Buffer.from(await backend.sign(priv, alg, signingInput)).equals(Buffer.from(signature))).toBe(true);
  } else {
    expect((await verifyCompactJws(jws, verifyingKey, alg)).valid).toBe(true);
    const forged = `${header}.${b64('another payload')}.${b64(signature)}`;
    expect((await verifyCompactJws(forged, verifyingKey, alg)).valid).toBe(false);
  }
  const wrongAlg = spec.kty === 'oct' ? 'RS256' : 'HS256';
  await expectRejected(backend.sign(priv, wrongAlg, signingInput), ErrorCode.ALG_NOT_SUPPORTED);
}

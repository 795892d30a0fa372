import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, privateDecrypt, constants, randomBytes } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { supports, type KeyBackend } from '../backend.js';
import { createKey, type NewKey } from '../create-key.js';
import { ErrorCode, KeymintError } from '../errors.js';
import { isPrivateJwk, toPublicJwk, type Jwk } from '../jwk.js';
import { resolveKeySpec } from '../params.js';
import { thumbprint } from '../thumbprint.js';
import { conformanceCases } from './cases.js';
import { verifyCompactJws } from '../verify.js';

export interface ConformanceOptions {
  /** RSA sizes to try: every algorithm at the first, RS256 at the rest. Default 2048, 3072, 4096. */
  rsaSizes?: readonly number[];
  /** Per-case timeout in ms (token key generation can be slow). Default 120000. */
  timeout?: number;
}

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

async function expectRejected(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a KeymintError ${code}`).toBeInstanceOf(KeymintError);
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
    expect(privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, sealed).equals(secret)).toBe(true);
  } else if (publicJwk.crv === 'X25519' || publicJwk.crv === 'X448' || publicJwk.kty === 'EC') {
    const type = publicJwk.kty === 'EC' ? 'ec' : (String(publicJwk.crv).toLowerCase() as 'x25519');
    const namedCurve = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp256k1: 'secp256k1' }[String(publicJwk.crv)];
    const other = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: namedCurve as string }) : generateKeyPairSync(type as 'x25519');
    const ours = diffieHellman({ privateKey: priv, publicKey: other.publicKey });
    const theirs = diffieHellman({ privateKey: other.privateKey, publicKey: pub });
    expect(ours.equals(theirs)).toBe(true);
  }
}

/**
 * Registers the conformance tests for a backend: for every kind of key in keymint's table, the
 * backend either declares it and makes a valid key (public part matching the private part, kid
 * the RFC 7638 thumbprint, signatures that verify with jose), or rejects it with
 * ERR_ALG_NOT_SUPPORTED.
 */
export function describeBackendConformance(name: string, factory: () => KeyBackend | Promise<KeyBackend>, options: ConformanceOptions = {}): void {
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
      it(`${testCase.name}: created or rejected as declared`, async () => {
        if (!supports(backend.capabilities, spec)) {
          await expectRejected(createKey(backend, testCase.params), ErrorCode.ALG_NOT_SUPPORTED);
          return;
        }
        const key = await createKey(backend, testCase.params);
        await checkKey(backend, key, spec.alg as string);
      }, timeout);
    }
  });
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

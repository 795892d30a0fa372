import {
  constants,
  createHmac,
  createPrivateKey,
  generateKeyPair as generateKeyPairCb,
  randomBytes,
  sign as nodeSign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  EC_CURVES,
  ErrorCode,
  KeymintError,
  OKP_CURVES,
  assertAlgorithmFits,
  signatureScheme,
  type BackendCapabilities,
  type BackendOptions,
  type Curve,
  type GeneratedKey,
  type Jwk,
  type KeyBackend,
  type KeySpec,
  type PrivatePart,
  type UnwrapParams,
} from '@keymint/core';
import { deriveWithJwk, unwrapWithJwk } from './decrypt-with-jwk.js';

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };
type KeyPairType = 'ec' | 'ed25519' | 'rsa';
type KeyPairOptions = { namedCurve: string } | { modulusLength: number; publicExponent: number } | undefined;

/**
 * crypto.generateKeyPair as a promise of both keys, made in Node's thread pool. Not
 * util.promisify: that learns of the second key from a symbol Node keeps on the function itself,
 * which the CLI's lazy stand-in for node:crypto (apps/cli/build.mjs) does not carry. Not
 * generateKeyPairSync, although it would spare a one-shot process the pool's start (0.5-2 ms): on
 * Node 20 a garbage collection during the key's export to JWK can run the finished job's
 * destructor, which takes a lock the export holds, and the process hangs (seen in the bench).
 */
function generateKeyPair(type: KeyPairType, options: KeyPairOptions): Promise<KeyPair> {
  const generate = generateKeyPairCb as unknown as (
    type: string,
    options: object | undefined,
    done: (error: Error | null, publicKey: KeyObject, privateKey: KeyObject) => void,
  ) => void;
  return new Promise((resolve, reject) => {
    generate(type, options, (error, publicKey, privateKey) =>
      error ? reject(error) : resolve({ publicKey, privateKey }),
    );
  });
}

/** OpenSSL's names for the JOSE curves. */
const OPENSSL_CURVE: Record<string, string> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
  secp256k1: 'secp256k1',
};

const CAPABILITIES: BackendCapabilities = {
  exportable: true,
  keyTypes: [
    ...EC_CURVES.map((crv) => ({ kty: 'EC' as const, crv })),
    ...OKP_CURVES.map((crv) => ({ kty: 'OKP' as const, crv })),
    { kty: 'RSA' },
    { kty: 'oct' },
  ],
  keyOperations: ['unwrapKey', 'deriveSharedSecret'],
};

/** The software backend needs nothing beyond what every backend takes. */
export type SoftwareBackendOptions = BackendOptions;

function exportJwk(key: KeyObject): Jwk {
  return key.export({ format: 'jwk' }) as Jwk;
}

async function generateAsymmetric(spec: KeySpec): Promise<KeyPair> {
  switch (spec.kty) {
    case 'EC':
      return generateKeyPair('ec', { namedCurve: OPENSSL_CURVE[spec.crv as Curve] as string });
    case 'OKP':
      // Node names the OKP key types after the curve in lower case: ed25519, x448 ...
      return generateKeyPair((spec.crv as Curve).toLowerCase() as 'ed25519', undefined);
    case 'RSA':
      return generateKeyPair('rsa', { modulusLength: spec.size as number, publicExponent: 0x10001 });
    default:
      throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `the software backend cannot make ${spec.kty} key pairs`);
  }
}

function privateJwkOf(key: PrivatePart, what = 'signs'): Jwk {
  if (key.kind !== 'jwk') {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      `the software backend ${what} with private JWKs, not with keys of backend "${key.reference.backend}"`,
    );
  }
  return key.jwk;
}

function signWith(jwk: Jwk, alg: string, data: Uint8Array): Uint8Array {
  const scheme = signatureScheme(alg);
  if (scheme.family === 'hmac') {
    return createHmac(scheme.hash as string, Buffer.from(jwk.k ?? '', 'base64url'))
      .update(data)
      .digest();
  }
  const key = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  switch (scheme.family) {
    case 'rsa-pkcs1':
      return nodeSign(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss':
      return nodeSign(scheme.hash, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    case 'ecdsa':
      // JOSE wants r||s (RFC 7518 §3.4), which OpenSSL calls IEEE P1363 encoding.
      return nodeSign(scheme.hash, data, { key, dsaEncoding: 'ieee-p1363' });
    case 'eddsa':
      return nodeSign(null, data, key);
  }
}

/**
 * A backend that makes keys with Node's crypto (OpenSSL) and hands the private JWK out.
 * Supports every key type keymint knows: EC P-256/P-384/P-521/secp256k1, OKP
 * Ed25519/Ed448/X25519/X448, RSA of any size, and oct keys from the CSPRNG. It decrypts JWEs with
 * the keys in hand (`unwrapKey`, `deriveSharedSecret`).
 * @example const key = await createKey(await softwareBackend(), { kty: 'OKP' });
 */
export async function softwareBackend(_options: SoftwareBackendOptions = {}): Promise<KeyBackend> {
  return {
    name: 'software',
    capabilities: CAPABILITIES,
    async generate(spec: KeySpec): Promise<GeneratedKey> {
      if (spec.kty === 'oct') {
        const k = randomBytes((spec.size as number) / 8).toString('base64url');
        return { publicJwk: null, private: { kind: 'jwk', jwk: { kty: 'oct', k } } };
      }
      const { publicKey, privateKey } = await generateAsymmetric(spec);
      return { publicJwk: exportJwk(publicKey), private: { kind: 'jwk', jwk: exportJwk(privateKey) } };
    },
    async sign(key: PrivatePart, alg: string, data: Uint8Array): Promise<Uint8Array> {
      const jwk = privateJwkOf(key);
      assertAlgorithmFits(jwk, alg);
      try {
        return new Uint8Array(signWith(jwk, alg, data));
      } catch (cause) {
        throw new KeymintError(ErrorCode.INPUT_INVALID, `the ${jwk.kty} key cannot sign with ${alg}: it is malformed`, {
          cause,
        });
      }
    },
    async unwrapKey(
      key: PrivatePart,
      alg: string,
      encryptedKey: Uint8Array,
      params: UnwrapParams,
    ): Promise<Uint8Array> {
      return unwrapWithJwk(privateJwkOf(key, 'decrypts'), alg, encryptedKey, params);
    },
    async deriveSharedSecret(key: PrivatePart, publicJwk: Jwk): Promise<Uint8Array> {
      return deriveWithJwk(privateJwkOf(key, 'decrypts'), publicJwk);
    },
    async close(): Promise<void> {},
  };
}

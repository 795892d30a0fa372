import {
  constants,
  createHmac,
  createPrivateKey,
  generateKeyPair as generateKeyPairCb,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
} from 'node:crypto';
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

type JwkPair = { publicJwk: Jwk; privateJwk: Jwk };
type KeyPairType = 'ec' | 'ed25519' | 'rsa';
type KeyPairOptions = { namedCurve: string } | { modulusLength: number; publicExponent: number } | undefined;
type Settings = KeyPairOptions & { publicKeyEncoding: { format: 'jwk' }; privateKeyEncoding: { format: 'jwk' } };

/** node:crypto's keygens with JWK encodings, which their overloads do not list for every type. */
const keygenSync = generateKeyPairSync as unknown as (
  type: KeyPairType,
  settings: Settings,
) => { publicKey: Jwk; privateKey: Jwk };
const keygenInPool = generateKeyPairCb as unknown as (
  type: KeyPairType,
  settings: Settings,
  done: (error: Error | null, publicKey: Jwk, privateKey: Jwk) => void,
) => void;

/**
 * A new key pair from OpenSSL, as the JWKs the keygen writes itself. Never a KeyObject exported to
 * JWK afterwards: on Node 20 a garbage collection during that export can run the finished keygen
 * job's destructor, which waits for a lock the export holds, and the process hangs for good (seen
 * in the bench); the keygen exports while its job is alive. In Node's thread pool, except for a
 * caller that runs one operation: then EC and OKP keys (well under a millisecond each) are made on
 * the calling thread, which spares a new process the pool's start (0.5-2 ms). RSA keys, which take
 * from tens of milliseconds to seconds, always go to the pool. Not util.promisify: that learns of
 * the second key from a symbol Node keeps on the function itself, which the CLI's lazy stand-in for
 * node:crypto (apps/cli/build.mjs) does not carry.
 */
function generateJwkPair(type: KeyPairType, options: KeyPairOptions, singleOperation: boolean): Promise<JwkPair> {
  const settings = {
    ...options,
    publicKeyEncoding: { format: 'jwk' },
    privateKeyEncoding: { format: 'jwk' },
  } as Settings;
  if (singleOperation && type !== 'rsa') {
    const { publicKey, privateKey } = keygenSync(type, settings);
    return Promise.resolve({ publicJwk: publicKey, privateJwk: privateKey });
  }
  return new Promise((resolve, reject) => {
    keygenInPool(type, settings, (error, publicKey, privateKey) =>
      error ? reject(error) : resolve({ publicJwk: publicKey, privateJwk: privateKey }),
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

/** What node:crypto's keygen takes for a key pair of `spec`. */
function keygenArguments(spec: KeySpec): [KeyPairType, KeyPairOptions] {
  switch (spec.kty) {
    case 'EC':
      return ['ec', { namedCurve: OPENSSL_CURVE[spec.crv as Curve] as string }];
    case 'OKP':
      // Node names the OKP key types after the curve in lower case: ed25519, x448 ...
      return [(spec.crv as Curve).toLowerCase() as 'ed25519', undefined];
    case 'RSA':
      return ['rsa', { modulusLength: spec.size as number, publicExponent: 0x10001 }];
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
export async function softwareBackend(options: SoftwareBackendOptions = {}): Promise<KeyBackend> {
  const singleOperation = options.singleOperation === true;
  return {
    name: 'software',
    capabilities: CAPABILITIES,
    async generate(spec: KeySpec): Promise<GeneratedKey> {
      if (spec.kty === 'oct') {
        const k = randomBytes((spec.size as number) / 8).toString('base64url');
        return { publicJwk: null, private: { kind: 'jwk', jwk: { kty: 'oct', k } } };
      }
      const { publicJwk, privateJwk } = await generateJwkPair(...keygenArguments(spec), singleOperation);
      return { publicJwk, private: { kind: 'jwk', jwk: privateJwk } };
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

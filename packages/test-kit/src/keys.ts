import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';

/** The key types a test makes, as node:crypto names them, and the options they take. */
export type TestKeyType = 'rsa' | 'ec' | 'ed25519' | 'ed448' | 'x25519' | 'x448';
export interface TestKeyOptions {
  namedCurve?: string;
  modulusLength?: number;
}

/** A key pair for a test: as JWKs, and as KeyObjects made from those JWKs. */
export interface TestKeyPair {
  publicJwk: JsonWebKey;
  privateJwk: JsonWebKey;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/** generateKeyPairSync with JWK encodings, which its overloads do not list for every type. */
const keygenToJwk = generateKeyPairSync as unknown as (
  type: TestKeyType,
  options: object,
) => { publicKey: JsonWebKey; privateKey: JsonWebKey };

/**
 * A new key pair for a test. Tests make their keys here, never with generateKeyPairSync followed
 * by `KeyObject.export({ format: 'jwk' })`: on Node 20 a garbage collection during that export
 * can run the finished keygen job's destructor, which waits for a lock the export holds, and the
 * process hangs for good (about once in a few thousand keys; a hung test run never reports).
 * Here the keygen writes the JWKs itself, while its job is alive, and the KeyObjects are imported
 * from them: no key a test holds comes from a keygen job.
 * @example const { publicJwk, privateKey } = newKeyPair('ec', { namedCurve: 'prime256v1' });
 */
export function newKeyPair(type: TestKeyType, options: TestKeyOptions = {}): TestKeyPair {
  const { publicKey: publicJwk, privateKey: privateJwk } = keygenToJwk(type, {
    ...options,
    publicKeyEncoding: { format: 'jwk' },
    privateKeyEncoding: { format: 'jwk' },
  });
  return {
    publicJwk,
    privateJwk,
    publicKey: createPublicKey({ key: publicJwk, format: 'jwk' }),
    privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }),
  };
}

import { constants, createPrivateKey, createPublicKey, diffieHellman, privateDecrypt, randomBytes } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { aesGcmUnwrapKey, aesUnwrapKey } from '../../src/aes-key-wrap.js';
import type { KeyBackend, PrivatePart, UnwrapParams } from '../../src/backend.js';
import { ErrorCode, KeymintError } from '../../src/errors.js';
import { keyManagementOf } from '../../src/jwe-algorithms.js';
import { toPublicJwk, type Jwk } from '../../src/jwk.js';
import type { OpenedKey } from '../../src/open-key.js';
import { decodePkcs1Block } from '../../src/rsa-padding.js';
import { newKeyPair } from '@keymint/test-kit';

/** Every call the backend got, so that a test can say the backend was never asked. */
export const calls: string[] = [];

const jwkOf = (key: PrivatePart): Jwk => {
  if (key.kind !== 'jwk') throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, 'not a JWK');
  return key.jwk;
};
const failed = () => new KeymintError(ErrorCode.DECRYPT_FAILED, 'does not decrypt');

/**
 * The backend these unit tests decrypt with: Node's crypto over the private JWK in hand, the
 * private-key step only, as a backend does it. (core cannot depend on @keymint/backend-software,
 * whose own tests and the conformance suite run the same JWEs through the real one.)
 */
export const nodeBackend: KeyBackend = {
  name: 'node-test',
  capabilities: { exportable: true, keyTypes: [], keyOperations: ['unwrapKey', 'deriveSharedSecret'] },
  generate: () => Promise.reject(new Error('not used')),
  sign: () => Promise.reject(new Error('not used')),
  async unwrapKey(key: PrivatePart, alg: string, encryptedKey: Uint8Array, params: UnwrapParams): Promise<Uint8Array> {
    calls.push(`unwrapKey ${alg}`);
    const jwk = jwkOf(key);
    const k = Buffer.from(jwk.k ?? '', 'base64url');
    switch (keyManagementOf(alg)?.mode) {
      case 'rsa': {
        const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
        try {
          if (alg === 'RSA1_5')
            return decodePkcs1Block(
              privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encryptedKey),
              params.cekLength,
            );
          return privateDecrypt(
            {
              key: privateKey,
              padding: constants.RSA_PKCS1_OAEP_PADDING,
              oaepHash: alg === 'RSA-OAEP' ? 'sha1' : 'sha256',
            },
            encryptedKey,
          );
        } catch {
          throw failed();
        }
      }
      case 'aes-kw':
        return aesUnwrapKey(k, encryptedKey) ?? Promise.reject(failed());
      case 'aes-gcm-kw':
        return (
          aesGcmUnwrapKey(k, encryptedKey, params.iv as Uint8Array, params.tag as Uint8Array) ??
          Promise.reject(failed())
        );
      case 'dir':
        return k;
      default:
        throw new Error(`unwrapKey with ${alg}`);
    }
  },
  async deriveSharedSecret(key: PrivatePart, publicJwk: Jwk): Promise<Uint8Array> {
    calls.push('deriveSharedSecret');
    const privateKey = createPrivateKey({ key: jwkOf(key) as JsonWebKey, format: 'jwk' });
    return diffieHellman({ privateKey, publicKey: createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }) });
  },
  close: () => Promise.resolve(),
};

/** A private JWK opened as `openPrivateKey` opens one, with the test backend. */
export function opened(jwk: Jwk, backend: KeyBackend = nodeBackend): OpenedKey {
  return { publicJwk: jwk.kty === 'oct' ? undefined : toPublicJwk(jwk), jwk, private: { kind: 'jwk', jwk }, backend };
}

/** A new private JWK of Node's making: RSA 2048, EC on `namedCurve`, X25519 or X448. */
export function privateJwk(
  type: 'rsa' | 'ec' | 'x25519' | 'x448',
  extra: Partial<Jwk> = {},
  namedCurve = 'prime256v1',
): Jwk {
  const options = type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve } : {};
  return { ...(newKeyPair(type, options).privateJwk as Jwk), ...extra };
}

/** A new secret JWK of `bits` random bits. */
export const octJwk = (bits: number, extra: Partial<Jwk> = {}): Jwk => ({
  kty: 'oct',
  k: Buffer.from(randomBytes(bits / 8)).toString('base64url'),
  ...extra,
});

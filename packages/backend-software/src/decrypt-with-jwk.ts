import { constants, createPrivateKey, createPublicKey, diffieHellman, privateDecrypt } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import {
  ErrorCode,
  KeymintError,
  aesGcmUnwrapKey,
  aesUnwrapKey,
  assertKeyManagementFits,
  decodePkcs1Block,
  describeJwk,
  type Jwk,
  type UnwrapParams,
} from '@keymint/core';

function failed(): KeymintError {
  return new KeymintError(ErrorCode.DECRYPT_FAILED, 'the encrypted key does not decrypt with this key');
}

function secretOf(jwk: Jwk): Buffer {
  return Buffer.from(jwk.k ?? '', 'base64url');
}

/**
 * Recovers a JWE's content-encryption key with a private JWK in memory: RSA-OAEP and RSA-OAEP-256
 * with OpenSSL; RSA1_5 as raw RSA decoded by core in constant time (Node 20 refuses PKCS#1 v1.5
 * decryption, CVE-2023-46809), random bytes when it does not decode; AES key wrap and AES-GCM key
 * wrap with OpenSSL; dir: the key itself. Core decides whether RSA1_5 is allowed at all.
 * @throws KeymintError ERR_DECRYPT_FAILED, ERR_ALG_NOT_SUPPORTED (the key does not fit `alg`)
 * @example await unwrapWithJwk(privateJwk, 'RSA-OAEP-256', encryptedKey, { cekLength: 32 })
 */
export function unwrapWithJwk(jwk: Jwk, alg: string, encryptedKey: Uint8Array, params: UnwrapParams): Uint8Array {
  const rule = assertKeyManagementFits(jwk, alg, { subtle: true });
  switch (rule.mode) {
    case 'rsa': {
      const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
      const oaepHash = alg === 'RSA-OAEP' ? 'sha1' : 'sha256';
      // OpenSSL throws for RSA1_5 only on an encrypted key that is not below the modulus, which
      // tells nothing secret; for OAEP on any that does not decode.
      try {
        if (alg === 'RSA1_5') {
          const block = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, encryptedKey);
          return decodePkcs1Block(block, params.cekLength);
        }
        return new Uint8Array(
          privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encryptedKey),
        );
      } catch {
        throw failed();
      }
    }
    case 'aes-kw':
      return (
        aesUnwrapKey(secretOf(jwk), encryptedKey) ??
        (() => {
          throw failed();
        })()
      );
    case 'aes-gcm-kw': {
      if (params.iv === undefined || params.tag === undefined) {
        throw new KeymintError(ErrorCode.INPUT_INVALID, `${alg} needs the JWE header's "iv" and "tag"`);
      }
      return (
        aesGcmUnwrapKey(secretOf(jwk), encryptedKey, params.iv, params.tag) ??
        (() => {
          throw failed();
        })()
      );
    }
    case 'dir':
      return new Uint8Array(secretOf(jwk));
    default:
      throw new KeymintError(
        ErrorCode.ALG_NOT_SUPPORTED,
        `${alg} agrees on a key (deriveSharedSecret): there is no key to unwrap`,
      );
  }
}

/**
 * The ECDH shared secret of a private EC, X25519 or X448 JWK and a public key, with OpenSSL.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED (a signing key, a curve without key agreement),
 *   ERR_INPUT_INVALID (a public key that gives no secret: a point of small order)
 * @example deriveWithJwk(privateJwk, epk) // 32 bytes for P-256
 */
export function deriveWithJwk(jwk: Jwk, publicJwk: Jwk): Uint8Array {
  // The key's own ECDH alg when it has one; any of the four needs the same key.
  assertKeyManagementFits(jwk, typeof jwk.alg === 'string' && jwk.alg.startsWith('ECDH-ES') ? jwk.alg : 'ECDH-ES');
  try {
    const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
    return new Uint8Array(diffieHellman({ privateKey, publicKey }));
  } catch (cause) {
    const text = `the public key gives no shared secret with this ${describeJwk(jwk)} key (a point of small order, or not on its curve)`;
    throw new KeymintError(ErrorCode.INPUT_INVALID, text, { cause });
  }
}

import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';

/** The default initial value of RFC 3394 §2.2.3.1, which OpenSSL's id-aes*-wrap ciphers take as their IV. */
const RFC3394_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

function wrapCipher(kek: Uint8Array): string {
  return `id-aes${kek.length * 8}-wrap`;
}

/**
 * Wraps a key with AES Key Wrap (RFC 3394) under a 128, 192 or 256-bit key, with OpenSSL.
 * @example aesWrapKey(kek, cek) // cek.length + 8 bytes
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.4
 */
export function aesWrapKey(kek: Uint8Array, key: Uint8Array): Uint8Array {
  const cipher = createCipheriv(wrapCipher(kek), kek, RFC3394_IV);
  return new Uint8Array(Buffer.concat([cipher.update(key), cipher.final()]));
}

/**
 * Unwraps an AES Key Wrap (RFC 3394) ciphertext, checking its integrity value; undefined when it
 * does not check (a wrong key or a changed ciphertext).
 * @example aesUnwrapKey(kek, wrapped) // the key, or undefined
 */
export function aesUnwrapKey(kek: Uint8Array, wrapped: Uint8Array): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv(wrapCipher(kek), kek, RFC3394_IV);
    return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]));
  } catch {
    return undefined;
  }
}

/**
 * Decrypts a key wrapped with AES-GCM (A128GCMKW ... A256GCMKW: a 96-bit IV, a 128-bit tag, no
 * additional data); undefined when the tag does not check.
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.7
 */
export function aesGcmUnwrapKey(
  kek: Uint8Array,
  wrapped: Uint8Array,
  iv: Uint8Array,
  tag: Uint8Array,
): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv(`aes-${kek.length * 8}-gcm` as CipherGCMTypes, kek, iv, { authTagLength: 16 });
    decipher.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]));
  } catch {
    return undefined;
  }
}

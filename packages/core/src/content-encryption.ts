import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual, type CipherGCMTypes } from 'node:crypto';
import type { ContentEncryption } from './jwe-algorithms.js';

/** The parts of a JWE that content encryption makes, and decryption takes. */
export interface SealedContent {
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** RFC 7518 §5.2.2.1: the first half of a CBC-HS key authenticates, the second half encrypts. */
function splitCbcHsKey(rule: ContentEncryption, cek: Uint8Array): { macKey: Uint8Array; encKey: Uint8Array } {
  const half = rule.cekBytes / 2;
  return { macKey: cek.subarray(0, half), encKey: cek.subarray(half) };
}

/** RFC 7518 §5.2.2.1 steps 4-6: HMAC over AAD || IV || ciphertext || AL, the first half kept. */
function cbcHsTag(
  rule: ContentEncryption,
  macKey: Uint8Array,
  aad: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Buffer {
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(aad.length) * 8n);
  const mac = createHmac(rule.hash as string, macKey)
    .update(aad)
    .update(iv)
    .update(data)
    .update(al)
    .digest();
  return mac.subarray(0, rule.tagBytes);
}

/**
 * Encrypts a JWE's plaintext under its CEK, with OpenSSL: AES-GCM, or AES-CBC with HMAC-SHA2 as
 * RFC 7518 §5.2 composes them. `aad` is the JWE's Additional Authenticated Data (the encoded
 * protected header). Used where jose cannot encrypt (RSA1_5, X448, secp256k1).
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-5
 */
export function encryptContent(
  rule: ContentEncryption,
  cek: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): SealedContent {
  if (rule.kind === 'gcm') {
    const cipher = createCipheriv(`aes-${rule.cekBytes * 8}-gcm` as CipherGCMTypes, cek, iv, { authTagLength: 16 });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { iv, ciphertext, tag: cipher.getAuthTag() };
  }
  const { macKey, encKey } = splitCbcHsKey(rule, cek);
  const cipher = createCipheriv(`aes-${encKey.length * 8}-cbc`, encKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cbcHsTag(rule, macKey, aad, iv, ciphertext) };
}

/**
 * Decrypts a JWE's ciphertext under its CEK, checking the tag first (CBC-HS: in constant time,
 * before any padding is looked at); undefined when the tag does not check. The caller has checked
 * the lengths of the CEK, IV and tag against `rule`.
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-5.2.2.2
 */
export function decryptContent(
  rule: ContentEncryption,
  cek: Uint8Array,
  sealed: SealedContent,
  aad: Uint8Array,
): Uint8Array | undefined {
  try {
    if (rule.kind === 'gcm') {
      const cipher = `aes-${rule.cekBytes * 8}-gcm` as CipherGCMTypes;
      const decipher = createDecipheriv(cipher, cek, sealed.iv, { authTagLength: 16 });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.tag);
      return new Uint8Array(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]));
    }
    const { macKey, encKey } = splitCbcHsKey(rule, cek);
    const expected = cbcHsTag(rule, macKey, aad, sealed.iv, sealed.ciphertext);
    if (expected.length !== sealed.tag.length || !timingSafeEqual(expected, sealed.tag)) return undefined;
    const decipher = createDecipheriv(`aes-${encKey.length * 8}-cbc`, encKey, sealed.iv);
    return new Uint8Array(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]));
  } catch {
    return undefined;
  }
}

import { createHash, randomBytes } from 'node:crypto';

/** 1 when `value` (0..255, or any int32) is not zero, else 0; without a branch on the value. */
const nonZero = (value: number) => ((value | -value) >>> 31) & 1;

/**
 * The message at the end of a decoded block, or `length` random bytes when `bad` is not zero,
 * chosen byte by byte with a mask rather than a branch (RFC 7516 §11.5: a failed decryption must
 * look like any other, and go on to fail where a wrong key fails: at the content's tag).
 */
function selectMessage(block: Uint8Array, offset: number, length: number, bad: number): Uint8Array {
  const random = randomBytes(length);
  const mask = -nonZero(bad) & 0xff;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((block[offset + i] ?? 0) & ~mask) | ((random[i] ?? 0) & mask);
  return out;
}

/**
 * Decodes an EME-PKCS1-v1_5 block (the output of raw RSA decryption, as long as the modulus) whose
 * message must be `length` bytes: 00 02, at least 8 non-zero padding bytes, 00, the message. With
 * the length known, every byte is checked at a fixed place, all of them every time; a block that
 * does not decode gives `length` random bytes, so that nothing but the content's tag tells.
 * Node 20 no longer decrypts RSA_PKCS1_PADDING with a private key (CVE-2023-46809, the Marvin
 * attack); keymint reads RSA1_5 JWEs only with `subtle`, and decodes them this way.
 * @example decodePkcs1Block(privateDecrypt({ key, padding: RSA_NO_PADDING }, encryptedKey), 32)
 * @see https://www.rfc-editor.org/rfc/rfc8017#section-7.2.2
 */
export function decodePkcs1Block(block: Uint8Array, length: number): Uint8Array {
  const separator = block.length - length - 1;
  if (separator < 10) return new Uint8Array(randomBytes(length));
  let bad = (block[0] ?? 1) | ((block[1] ?? 0) ^ 0x02);
  for (let i = 2; i < separator; i++) bad |= 1 - nonZero(block[i] ?? 0);
  bad |= block[separator] ?? 1;
  return selectMessage(block, separator + 1, length, bad);
}

function mgf1(hash: 'sha1' | 'sha256', seed: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0; out.length * (hash === 'sha1' ? 20 : 32) < length; i++) {
    counter.writeUInt32BE(i);
    out.push(createHash(hash).update(seed).update(counter).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/**
 * Decodes an EME-OAEP block (empty label, MGF1 with the same hash) whose message must be `length`
 * bytes, checking every byte at its fixed place every time; a block that does not decode gives
 * `length` random bytes. For tokens that decrypt raw RSA but not OAEP with SHA-256 (SoftHSM 2.6).
 * @example decodeOaepBlock(rawBlock, 'sha256', 32)
 * @see https://www.rfc-editor.org/rfc/rfc8017#section-7.1.2
 */
export function decodeOaepBlock(block: Uint8Array, hash: 'sha1' | 'sha256', length: number): Uint8Array {
  const hLen = hash === 'sha1' ? 20 : 32;
  const k = block.length;
  if (k < 2 * hLen + 2 + length) return new Uint8Array(randomBytes(length));
  const maskedSeed = block.subarray(1, 1 + hLen);
  const maskedDb = block.subarray(1 + hLen);
  const seedMask = mgf1(hash, maskedDb, hLen);
  const seed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) seed[i] = (maskedSeed[i] ?? 0) ^ (seedMask[i] ?? 0);
  const dbMask = mgf1(hash, seed, maskedDb.length);
  const db = new Uint8Array(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] ?? 0) ^ (dbMask[i] ?? 0);
  const labelHash = createHash(hash).digest();
  const separator = db.length - length - 1;
  let bad = block[0] ?? 1;
  for (let i = 0; i < hLen; i++) bad |= (db[i] ?? 0) ^ (labelHash[i] ?? 0);
  for (let i = hLen; i < separator; i++) bad |= db[i] ?? 1;
  bad |= (db[separator] ?? 0) ^ 0x01;
  return selectMessage(db, separator + 1, length, bad);
}

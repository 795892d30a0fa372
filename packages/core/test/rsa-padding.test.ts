import { constants, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { newKeyPair } from '@keymint/test-kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOaepBlock, decodePkcs1Block } from '../src/rsa-padding.js';

const { publicKey, privateKey } = newKeyPair('rsa', { modulusLength: 2048 });
/** What a token's raw RSA (CKM_RSA_X_509) gives: the padded block, as long as the modulus. */
const raw = (ciphertext: Buffer) => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('decodeOaepBlock', () => {
  it.each(['sha1', 'sha256'] as const)('decodes what OpenSSL pads with OAEP %s', (hash) => {
    for (const length of [16, 32, 64]) {
      const cek = randomBytes(length);
      const block = raw(
        publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, cek),
      );
      expect(same(decodeOaepBlock(block, hash, length), cek)).toBe(true);
    }
  });

  it('gives random bytes of the expected length for a block that does not decode: another hash, another length, any changed byte', () => {
    const cek = randomBytes(32);
    const block = raw(
      publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek),
    );
    expect(same(decodeOaepBlock(block, 'sha1', 32), cek)).toBe(false);
    expect(decodeOaepBlock(block, 'sha256', 16)).toHaveLength(16);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: block.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const changed = Buffer.from(block);
        changed[at] = (changed[at] as number) ^ flip;
        const out = decodeOaepBlock(changed, 'sha256', 32);
        expect(out).toHaveLength(32);
        expect(same(out, cek)).toBe(false);
      }),
      { numRuns: 500 },
    );
    // Random, not fixed: two failures do not give the same bytes.
    const bad = Buffer.from(block);
    bad[0] = 1;
    expect(same(decodeOaepBlock(bad, 'sha256', 32), decodeOaepBlock(bad, 'sha256', 32))).toBe(false);
  });
});

describe('decodePkcs1Block', () => {
  it('decodes what OpenSSL pads with PKCS#1 v1.5', () => {
    for (const length of [16, 32, 64]) {
      const cek = randomBytes(length);
      expect(
        same(
          decodePkcs1Block(raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek)), length),
          cek,
        ),
      ).toBe(true);
    }
  });

  it('gives random bytes for 00 02 missing, a zero inside the padding, no zero before the message, or another message length', () => {
    const cek = randomBytes(32);
    const block = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek));
    const separator = block.length - 33;
    const variants: Buffer[] = [];
    for (const [at, value] of [
      [0, 1],
      [1, 1],
      [5, 0],
      [separator - 1, 0],
      [separator, 7],
    ] as const) {
      const v = Buffer.from(block);
      v[at] = value;
      variants.push(v);
    }
    for (const v of variants) {
      const out = decodePkcs1Block(v, 32);
      expect(out).toHaveLength(32);
      expect(same(out, cek)).toBe(false);
    }
    expect(same(decodePkcs1Block(block, 31), cek.subarray(1))).toBe(false);
    expect(decodePkcs1Block(block.subarray(0, 40), 32)).toHaveLength(32);
  });
});

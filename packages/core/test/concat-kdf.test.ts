import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { concatKdf } from '../src/concat-kdf.js';

describe('concatKdf', () => {
  // RFC 7518 Appendix C: Alice's ephemeral key, Bob's key, apu "Alice", apv "Bob", A128GCM.
  const alice = {
    kty: 'EC',
    crv: 'P-256',
    x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0',
    y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps',
    d: '0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo',
  };
  const bob = {
    kty: 'EC',
    crv: 'P-256',
    x: 'weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ',
    y: 'e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck',
  };

  it('rfc7518-C: the ECDH-ES key of the appendix', () => {
    const z = diffieHellman({
      privateKey: createPrivateKey({ key: alice, format: 'jwk' }),
      publicKey: createPublicKey({ key: bob, format: 'jwk' }),
    });
    expect([...z.subarray(0, 5)]).toEqual([158, 86, 217, 29, 129]);
    const key = concatKdf(z, 'A128GCM', 128, Buffer.from('Alice'), Buffer.from('Bob'));
    expect(Buffer.from(key).toString('base64url')).toBe('VqqN6vgjbSBcIijNcacQGg');
  });

  it('gives keys longer than one SHA-256 output (A256CBC-HS512: 512 bits), each round a new counter', () => {
    const z = new Uint8Array(32).fill(7);
    const long = concatKdf(z, 'A256CBC-HS512', 512);
    expect(long).toHaveLength(64);
    expect(Buffer.from(long.subarray(0, 32)).equals(Buffer.from(long.subarray(32)))).toBe(false);
    // The key length is part of the input: a 256-bit key is not the start of the 512-bit one.
    expect(Buffer.from(concatKdf(z, 'A256CBC-HS512', 256)).equals(Buffer.from(long.subarray(0, 32)))).toBe(false);
  });
});

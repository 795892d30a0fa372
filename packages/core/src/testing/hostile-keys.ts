import { randomBytes } from 'node:crypto';
import type { Jwk } from '../jwk.js';

const bigIntOf = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex')}`);
function b64(value: bigint): string {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
}
function oddNumber(bits: number): bigint {
  const bytes = randomBytes(Math.ceil(bits / 8));
  bytes[0] = (bytes[0] as number) | 0xc0;
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 1;
  return bigIntOf(bytes);
}

/**
 * An RSA private JWK of about `bits` bits whose members agree as OpenSSL checks them (n = p q,
 * dp = d mod p-1, dq = d mod q-1) but whose "primes" are random odd numbers: made in
 * milliseconds at any size, as a hostile file would be, and as slow as a real key of that size to
 * use. At 65536 bits one RSA operation on it takes minutes.
 */
export function hostileRsaJwk(bits: number): Jwk {
  const p = oddNumber(bits / 2);
  const q = oddNumber(bits / 2);
  const n = p * q;
  const d = bigIntOf(randomBytes(bits / 8 - 8)) % n;
  return {
    kty: 'RSA',
    n: b64(n),
    e: 'AQAB',
    d: b64(d),
    p: b64(p),
    q: b64(q),
    dp: b64(d % (p - 1n)),
    dq: b64(d % (q - 1n)),
    qi: b64(bigIntOf(randomBytes(bits / 16 - 8)) % p),
  };
}

import { createECDH, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Jwk } from './jwk.js';

/*
 * Short-lived key pairs for ECDH (a JWE's ephemeral key, a probe), made without
 * generateKeyPairSync: on Node 20 a garbage collection while such a key is exported or used can
 * run the finished keygen job's destructor, which waits for a lock the export holds, and the
 * process hangs for good (seen with `create` in the bench). Keys imported from bytes have no job.
 * Internal: used by the JWE code, not part of the package's API.
 */

/** RFC 8410 PKCS#8 of an X25519 or X448 private key, up to the key's octets. */
const PKCS8_PREFIX = {
  X25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
  X448: Buffer.from('3046020100300506032b656f043a0438', 'hex'),
} as const;

const OKP_BYTES = { X25519: 32, X448: 56 } as const;

/** A new X25519 or X448 private key: random octets, clamped by the algorithm itself (RFC 7748 §5). */
export function newMontgomeryKey(crv: 'X25519' | 'X448'): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX[crv], randomBytes(OKP_BYTES[crv])]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The public x of an X25519 or X448 private key, base64url. */
export function montgomeryPublicX(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({ format: 'jwk' }).x as string;
}

/**
 * An ephemeral EC key on OpenSSL's curve `curve` (prime256v1 ...) agreed with the EC public JWK
 * `peer`: the ephemeral public point's x and y, and the shared secret.
 * @throws when `peer` is not a point on the curve (OpenSSL checks)
 */
export function agreeOnCurve(curve: string, peer: Jwk): { x: Buffer; y: Buffer; z: Buffer } {
  const ecdh = createECDH(curve);
  const point = ecdh.generateKeys();
  const size = (point.length - 1) / 2;
  const peerPoint = Buffer.concat([
    Buffer.of(0x04),
    Buffer.from(peer.x ?? '', 'base64url'),
    Buffer.from(peer.y ?? '', 'base64url'),
  ]);
  return { x: point.subarray(1, 1 + size), y: point.subarray(1 + size), z: ecdh.computeSecret(peerPoint) };
}

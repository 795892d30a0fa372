import { createHash } from 'node:crypto';

function lengthPrefixed(data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/**
 * The key an ECDH-ES agreement gives a JWE: the Concat KDF of NIST SP 800-56A with SHA-256 over
 * the shared secret Z, as RFC 7518 §4.6.2 profiles it. AlgorithmID is the "enc" for ECDH-ES
 * (direct key agreement) and the "alg" for ECDH-ES+A*KW; apu and apv are the decoded header
 * values (empty when absent). It runs here, in the host, because a backend that keeps its key in
 * a token hands out only Z (CKM_ECDH1_DERIVE with CKD_NULL), and jose takes no Z from outside.
 * @example concatKdf(z, 'A128GCM', 128) // the 16-byte CEK of an ECDH-ES JWE with A128GCM
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-4.6.2
 */
export function concatKdf(
  z: Uint8Array,
  algorithmId: string,
  keyBits: number,
  apu: Uint8Array = new Uint8Array(),
  apv: Uint8Array = new Uint8Array(),
): Uint8Array {
  const suppPubInfo = Buffer.alloc(4);
  suppPubInfo.writeUInt32BE(keyBits);
  const algorithmBytes = Buffer.from(algorithmId, 'ascii');
  const otherInfo = Buffer.concat([
    lengthPrefixed(algorithmBytes),
    lengthPrefixed(apu),
    lengthPrefixed(apv),
    suppPubInfo,
  ]);
  const keyBytes = keyBits / 8;
  const rounds: Buffer[] = [];
  for (let counter = 1; rounds.length * 32 < keyBytes; counter++) {
    const round = Buffer.alloc(4);
    round.writeUInt32BE(counter);
    rounds.push(createHash('sha256').update(round).update(z).update(otherInfo).digest());
  }
  return new Uint8Array(Buffer.concat(rounds).subarray(0, keyBytes));
}

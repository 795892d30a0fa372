import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resolveKeySpec, type KeyParams } from '@keymint/core';
import { softwareBackend } from '../src/index.js';

/**
 * Which comes first: the key, or an immediate callback queued just before asking for it. A key
 * made in Node's thread pool arrives after a turn of the event loop; one made on the calling
 * thread is there before it.
 */
async function keyBeforeImmediate(singleOperation: boolean, params: KeyParams): Promise<boolean> {
  const backend = await softwareBackend({ singleOperation });
  const order: string[] = [];
  setImmediate(() => order.push('immediate'));
  const key = await backend.generate(resolveKeySpec(params));
  order.push('key');
  // The key is a real one either way.
  expect(createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' }).asymmetricKeyType).toBeTruthy();
  await new Promise((resolve) => setImmediate(resolve));
  return order[0] === 'key';
}

describe('singleOperation', () => {
  it('makes EC and OKP keys on the calling thread (no thread pool to start in a one-shot process)', async () => {
    expect(await keyBeforeImmediate(true, { kty: 'EC', crv: 'P-256' })).toBe(true);
    expect(await keyBeforeImmediate(true, { kty: 'OKP', crv: 'Ed25519' })).toBe(true);
  });

  it('keeps RSA keys, and every key by default, in the thread pool', async () => {
    expect(await keyBeforeImmediate(true, { kty: 'RSA', size: 2048 })).toBe(false);
    expect(await keyBeforeImmediate(false, { kty: 'EC', crv: 'P-256' })).toBe(false);
    expect(await keyBeforeImmediate(false, { kty: 'OKP', crv: 'X25519', use: 'enc' })).toBe(false);
  });
});

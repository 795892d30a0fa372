import { spawnSync } from 'node:child_process';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resolveKeySpec, type KeyParams } from '@keymint/core';
import { generateContext } from '@keymint/core/testing';
import { softwareBackend } from '../src/index.js';

/**
 * Whether the key is there before the event loop turns: a key made on the calling thread arrives
 * within the microtasks that follow the call; one made in Node's thread pool can only be delivered
 * by the event loop, after every queued microtask has run.
 */
async function keyWithoutEventLoop(singleOperation: boolean, params: KeyParams): Promise<boolean> {
  const backend = await softwareBackend({ singleOperation });
  const spec = resolveKeySpec(params);
  let arrived = false;
  const pending = backend.generate(spec, generateContext(spec)).then((key) => {
    arrived = true;
    return key;
  });
  for (let turn = 0; turn < 100 && !arrived; turn++) await null;
  const withoutEventLoop = arrived;
  const key = await pending;
  // The key is a real one either way.
  expect(createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' }).asymmetricKeyType).toBeTruthy();
  return withoutEventLoop;
}

describe('singleOperation', () => {
  it('makes EC and OKP keys on the calling thread (no thread pool to start in a one-shot process)', async () => {
    expect(await keyWithoutEventLoop(true, { kty: 'EC', crv: 'P-256' })).toBe(true);
    expect(await keyWithoutEventLoop(true, { kty: 'OKP', crv: 'Ed25519' })).toBe(true);
  });

  it('keeps RSA keys, and every key by default, in the thread pool', async () => {
    expect(await keyWithoutEventLoop(true, { kty: 'RSA', size: 2048 })).toBe(false);
    expect(await keyWithoutEventLoop(false, { kty: 'EC', crv: 'P-256' })).toBe(false);
    expect(await keyWithoutEventLoop(false, { kty: 'OKP', crv: 'X25519', use: 'enc' })).toBe(false);
  });
});

describe('keys made on the calling thread', () => {
  it('20,000 EC keys, each signed with at once, in a new process: it finishes (no Node 20 keygen hang)', () => {
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const script = `import(${JSON.stringify(dist)}).then(async ({ softwareBackend }) => {
      const backend = await softwareBackend({ singleOperation: true });
      const spec = { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' };
      for (let i = 0; i < 20000; i++) {
        const key = await backend.generate(spec, { kid: async () => undefined, privateJwk: (jwk) => jwk });
        await backend.sign(key.private, 'ES256', new Uint8Array([i & 255]));
      }
      console.log('done');
    })`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50_000 });
    expect(run.signal, 'the process hung and was killed').toBeNull();
    expect(run.stdout, run.stderr).toBe('done\n');
  }, 60_000);
});

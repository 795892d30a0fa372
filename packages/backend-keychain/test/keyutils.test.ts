import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createKey, toPublicJwk, type Jwk, type KeyReference, type PrivatePart } from '@keymint/core';
import { verifyCompactJws } from '@keymint/core/testing';
import { INDEX_ACCOUNT, deleteKeychainKey, keychainBackend, keychainLocation, listKeychainKeys } from '../src/index.js';
import { rejection, uniqueService } from '@keymint/test-kit';
import { assertKeyutilsUsable, keyctl, removeAllKeys } from './support/keys.js';

beforeAll(assertKeyutilsUsable);

function referenceOf(part: PrivatePart | undefined): KeyReference {
  if (part?.kind !== 'reference') throw new Error('expected a key reference');
  return part.reference;
}

/** The kernel key of an entry, found with keyctl: the library names it `keyring:<account>@<service>`. */
function kernelKey(service: string, account: string): string | undefined {
  const found = keyctl(['search', '@s', 'user', `keyring:${account}@${service}`]);
  return found.status === 0 ? found.stdout.trim() : undefined;
}

describe('keychain backend on the kernel keyring (keyutils, fresh session keyring)', () => {
  it('stores the private JWK as a user key in the session keyring; signs from the reference', async () => {
    const service = uniqueService('keyutils');
    const key = await createKey(await keychainBackend({ service, store: 'keyutils' }), { kty: 'OKP', crv: 'Ed25519' });
    const reference = referenceOf(key.private);
    expect(reference.location).toEqual({ service, account: key.kid, store: 'keyutils', thumbprint: key.thumbprint });
    // An independent look with keyctl.
    const id = kernelKey(service, key.kid as string);
    expect(id).toMatch(/^\d+$/);
    const stored = JSON.parse(keyctl(['pipe', id as string]).stdout) as Jwk;
    expect(typeof stored.d).toBe('string');
    expect(toPublicJwk(stored)).toEqual(key.publicJwk);
    // A fresh backend with no options signs: the reference names the store.
    const input = `${Buffer.from('{"alg":"EdDSA"}').toString('base64url')}.cGF5bG9hZA`;
    const signature = await (await keychainBackend()).sign(
      { kind: 'reference', reference },
      'EdDSA',
      new TextEncoder().encode(input),
    );
    expect(
      (
        await verifyCompactJws(
          `${input}.${Buffer.from(signature).toString('base64url')}`,
          key.publicJwk as Jwk,
          'EdDSA',
        )
      ).valid,
    ).toBe(true);
    await removeAllKeys(service, 'keyutils');
    expect(kernelKey(service, key.kid as string)).toBeUndefined();
  });

  it('lists from keymint index entry, since keyutils cannot be searched', async () => {
    const service = uniqueService('keyutils-list');
    const a = await createKey(await keychainBackend({ service, store: 'keyutils', account: 'a' }), { kty: 'EC' });
    const b = await createKey(await keychainBackend({ service, store: 'keyutils', account: 'b' }), { kty: 'RSA' });
    const index = JSON.parse(keyctl(['pipe', kernelKey(service, INDEX_ACCOUNT) as string]).stdout) as unknown;
    expect(index).toEqual({ type: 'keymint-keychain-index', version: 1, accounts: ['a', 'b'] });
    const listing = await listKeychainKeys({ service, store: 'keyutils' });
    expect(listing).toMatchObject({ service, store: 'keyutils', searched: false, warnings: [] });
    expect(listing.keys.map((k) => [k.account, k.kid, k.kty])).toEqual([
      ['a', a.kid, 'EC'],
      ['b', b.kid, 'RSA'],
    ]);
    // Deleted behind keymint's back: listed as missing until deleted through keymint.
    expect(keyctl(['invalidate', kernelKey(service, 'a') as string]).status).toBe(0);
    const after = await listKeychainKeys({ service, store: 'keyutils' });
    expect(after.keys[0]).toEqual({ service, account: 'a', store: 'keyutils', status: 'missing' });
    expect(after.warnings).toHaveLength(1);
    expect((await deleteKeychainKey({ service, account: 'a', store: 'keyutils' })).outcome).toBe('unlisted');
    expect((await deleteKeychainKey(keychainLocation(referenceOf(b.private)))).outcome).toBe('deleted');
    expect(kernelKey(service, 'b')).toBeUndefined();
    expect(kernelKey(service, INDEX_ACCOUNT)).toBeUndefined();
  });

  it('existing entry, missing entry and a secret that is not a JWK, in keyutils too', async () => {
    const service = uniqueService('keyutils-errors');
    const key = await createKey(await keychainBackend({ service, store: 'keyutils', account: 'k' }), { kty: 'EC' });
    await rejection(
      createKey(await keychainBackend({ service, store: 'keyutils', account: 'k' }), { kty: 'EC' }),
      ErrorCode.KEY_EXISTS,
    );
    const reference = referenceOf(key.private);
    const data = new Uint8Array([1, 2, 3]);
    // keyctl update replaces the payload of the key the library reads.
    expect(keyctl(['update', kernelKey(service, 'k') as string, 'garbage']).status).toBe(0);
    await rejection(
      (await keychainBackend()).sign({ kind: 'reference', reference }, 'ES256', data),
      ErrorCode.INPUT_INVALID,
    );
    await deleteKeychainKey({ service, account: 'k', store: 'keyutils' });
    await rejection(
      (await keychainBackend()).sign({ kind: 'reference', reference }, 'ES256', data),
      ErrorCode.KEY_NOT_FOUND,
    );
  });
});

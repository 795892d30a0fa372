import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createKey, type KeyReference } from '@keymint/core';
import { deleteKeychainKey, keychainBackend, listKeychainKeys } from '../src/index.js';
import { rejection, startKeyringSession, uniqueService, type KeyringSession } from '@keymint/test-kit';

// A keyring of this file's own, locked after a key is stored, as a screen lock would leave it.
// It must be set up before this process first talks to a bus: libdbus reads the address once.
let session: KeyringSession;
let reference: KeyReference;
const service = uniqueService('locked');

beforeAll(async () => {
  session = await startKeyringSession();
  Object.assign(process.env, session.env);
  const key = await createKey(await keychainBackend({ service, account: 'a' }), { kty: 'EC' });
  if (key.private?.kind !== 'reference') throw new Error('expected a reference');
  reference = key.private.reference;
  session.lock();
});
afterAll(() => session?.stop());

describe('a locked keychain, and no prompt can be shown', () => {
  it('signing fails with ERR_BACKEND_LOCKED and says how to unlock', async () => {
    const error = await rejection(
      (await keychainBackend()).sign({ kind: 'reference', reference }, 'ES256', new Uint8Array([1])),
      ErrorCode.BACKEND_LOCKED,
    );
    expect(error.message).toMatch(
      /^the keychain is locked and cannot be unlocked without a prompt \(reading service ".*", account "a" in the Secret Service: .*prompt was dismissed\)$/,
    );
    expect(error.hint).toContain('gnome-keyring-daemon --unlock');
  });

  it('creating, listing and deleting fail the same way', async () => {
    await rejection(createKey(await keychainBackend({ service }), { kty: 'EC' }), ErrorCode.BACKEND_LOCKED);
    await rejection(listKeychainKeys({ service }), ErrorCode.BACKEND_LOCKED);
    await rejection(deleteKeychainKey({ service, account: 'a' }), ErrorCode.BACKEND_LOCKED);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createKey } from '@keymint/core';
import { keychainBackend, keychainLocation } from '../src/index.js';
import { startBareBus } from './support/keyring-session.js';
import { rejection, removeAllKeys, uniqueService } from './support/keys.js';

// A session bus answers, but nothing on it provides org.freedesktop.secrets. Set before this
// process first talks to a bus: libdbus reads the address once.
let bus: Awaited<ReturnType<typeof startBareBus>>;
beforeAll(async () => {
  bus = await startBareBus();
  process.env.DBUS_SESSION_BUS_ADDRESS = bus.address;
});
afterAll(() => bus?.stop());

describe('a session bus without a Secret Service', () => {
  it('the Secret Service asked for: "no keychain available: no Secret Service ... on the D-Bus session bus"', async () => {
    const error = await rejection(createKey(await keychainBackend({ service: uniqueService('no-ss'), store: 'secret-service' }), { kty: 'EC' }), ErrorCode.BACKEND_UNAVAILABLE);
    expect(error.message).toMatch(/^no keychain available: no Secret Service \(gnome-keyring, KWallet, KeePassXC\) runs on the D-Bus session bus \(.*org\.freedesktop\.secrets/);
    expect(error.hint).toContain('gnome-keyring-daemon --unlock');
  });

  it('no store asked for: the kernel keyring, as the library does', async () => {
    const service = uniqueService('no-ss-fallback');
    const key = await createKey(await keychainBackend({ service }), { kty: 'EC' });
    if (key.private?.kind !== 'reference') throw new Error('expected a reference');
    expect(keychainLocation(key.private.reference).store).toBe('keyutils');
    await removeAllKeys(service, 'keyutils');
  });
});

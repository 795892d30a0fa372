import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createKey } from '@keymint/core';
import { rejection, startBareBus, uniqueService } from '@keymint/test-kit';
import { keychainBackend } from '../src/index.js';
import { expectKeyutilsFallback } from './support/keys.js';

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
    const error = await rejection(
      createKey(await keychainBackend({ service: uniqueService('no-ss'), store: 'secret-service' }), { kty: 'EC' }),
      ErrorCode.BACKEND_UNAVAILABLE,
    );
    expect(error.message).toMatch(
      /^no keychain available: no Secret Service \(gnome-keyring, KWallet, KeePassXC\) runs on the D-Bus session bus \(.*org\.freedesktop\.secrets/,
    );
    expect(error.hint).toContain('gnome-keyring-daemon --unlock');
  });

  it('no store asked for: the kernel keyring, as the library does', async () => {
    await expectKeyutilsFallback('no-ss-fallback');
  });
});

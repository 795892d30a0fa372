import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, createKey } from '@keymint/core';
import { keychainBackend } from '../src/index.js';
import { rejection, uniqueService } from '@keymint/test-kit';

// No address at all, and nowhere libdbus could find one: no $XDG_RUNTIME_DIR/bus, no X display
// to autolaunch on (the library's libdbus has X11 autolaunch compiled out anyway).
const runtime = mkdtempSync(join(tmpdir(), 'keymint-no-bus-'));
delete process.env.DBUS_SESSION_BUS_ADDRESS;
delete process.env.DISPLAY;
process.env.XDG_RUNTIME_DIR = runtime;
afterAll(() => rmSync(runtime, { recursive: true, force: true }));

describe('DBUS_SESSION_BUS_ADDRESS unset', () => {
  it('ERR_BACKEND_UNAVAILABLE: "no keychain available", saying the address is not set', async () => {
    const error = await rejection(
      createKey(await keychainBackend({ service: uniqueService('unset'), store: 'secret-service' }), { kty: 'EC' }),
      ErrorCode.BACKEND_UNAVAILABLE,
    );
    expect(error.message).toMatch(
      /^no keychain available: no D-Bus session bus for the Secret Service \(DBUS_SESSION_BUS_ADDRESS is not set: /,
    );
    expect(error.hint).toContain('dbus-run-session');
  });
});

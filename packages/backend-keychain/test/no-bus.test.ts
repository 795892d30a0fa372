import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, createKey } from '@keymint/core';
import { rejection, uniqueService } from '@keymint/test-kit';
import { keychainBackend, listKeychainKeys } from '../src/index.js';
import { expectKeyutilsFallback } from './support/keys.js';

// This file's process never sees a bus: the address points at a socket nobody listens on.
const DEAD_BUS = `unix:path=/tmp/keymint-no-bus-${process.pid}/bus`;
process.env.DBUS_SESSION_BUS_ADDRESS = DEAD_BUS;

describe('no D-Bus session bus', () => {
  it('the Secret Service asked for: ERR_BACKEND_UNAVAILABLE "no keychain available" with what to start', async () => {
    const error = await rejection(
      createKey(await keychainBackend({ service: uniqueService('no-bus'), store: 'secret-service' }), { kty: 'EC' }),
      ErrorCode.BACKEND_UNAVAILABLE,
    );
    expect(error.message).toMatch(
      /^no keychain available: no D-Bus session bus for the Secret Service \(nothing answers at unix:path=\/tmp\/keymint-no-bus-/,
    );
    expect(error.hint).toContain('dbus-run-session');
    expect(error.hint).toContain('gnome-keyring-daemon --unlock');
    expect(error.hint).toContain('--keychain-store keyutils');
  });

  it('signing and listing fail the same way', async () => {
    const reference = { backend: 'keychain', location: { service: 'keymint', account: 'a', store: 'secret-service' } };
    const sign = await rejection(
      (await keychainBackend()).sign({ kind: 'reference', reference }, 'ES256', new Uint8Array([1])),
      ErrorCode.BACKEND_UNAVAILABLE,
    );
    expect(sign.message).toMatch(/^no keychain available/);
    await rejection(listKeychainKeys({ store: 'secret-service' }), ErrorCode.BACKEND_UNAVAILABLE);
  });

  it('no store asked for: falls back to the kernel keyring, as the library does, and the reference says so', async () => {
    await expectKeyutilsFallback('fallback');
  });

  it('no store asked for and the kernel keyring refuses too: "no keychain available" names both', () => {
    // A session keyring this process may read but not write: keyutils refuses to store.
    const script = join(dirname(fileURLToPath(import.meta.url)), 'support', 'create-key.mjs');
    const run = spawnSync(
      'keyctl',
      [
        'session',
        '-',
        'sh',
        '-c',
        'keyctl setperm @s 0x0b0b0000 && exec "$0" "$@"',
        process.execPath,
        script,
        uniqueService('refused'),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: DEAD_BUS },
      },
    );
    const outcome = JSON.parse(run.stdout) as { ok: boolean; code: string; message: string; hint: string };
    expect(outcome).toMatchObject({ ok: false, code: ErrorCode.BACKEND_UNAVAILABLE });
    expect(outcome.message).toMatch(
      /^no keychain available: no D-Bus session bus for the Secret Service \(.*\), and the kernel keyring \(keyutils\) refused access/,
    );
    expect(outcome.hint).toContain('dbus-run-session');
    expect(outcome.hint).toContain('keyctl session -');
  });
});

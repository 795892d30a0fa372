import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@keymint/core';
import { keychainError } from '../src/keychain-error.js';
import { deleteCommandFor } from '../src/options.js';

// The messages below are what @napi-rs/keyring 2.1 reports (seen on this machine for Linux; from
// keyring-rs for the rest): the mapping must not depend on a live store.
const ss = { service: 'keymint', account: 'a', store: 'secret-service' as const };
const ku = { service: 'keymint', account: 'a', store: 'keyutils' as const };

function mapped(message: string, context: Parameters<typeof keychainError>[1] = ss) {
  const error = keychainError(new Error(message), context, 'reading');
  expect(error.message).not.toMatch(/\n/);
  return error;
}

describe('library errors become typed keymint errors', () => {
  it('no session bus: ERR_BACKEND_UNAVAILABLE', () => {
    for (const message of [
      'Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead',
      'Platform failure: DBus error: Failed to connect to socket /run/user/0/bus: No such file or directory',
      'zbus error: Failed to connect to address `unix:path=/run/user/0/bus`: No such file or directory (os error 2)',
    ]) {
      const error = mapped(message);
      expect(error.code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
      expect(error.message).toMatch(/^no keychain available: no D-Bus session bus/);
    }
  });

  it('a bus without a Secret Service: ERR_BACKEND_UNAVAILABLE', () => {
    const error = mapped(
      'Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files',
    );
    expect(error.code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect(error.message).toMatch(/^no keychain available: no Secret Service/);
  });

  it('locked: ERR_BACKEND_LOCKED, on Linux and macOS', () => {
    expect(mapped("Couldn't access platform storage: Secret Service: unlock prompt was dismissed").code).toBe(
      ErrorCode.BACKEND_LOCKED,
    );
    expect(
      mapped("Couldn't access platform storage: User interaction is not allowed.", {
        service: 'keymint',
        store: undefined,
      }).code,
    ).toBe(ErrorCode.BACKEND_LOCKED);
  });

  it('keyutils refusing: ERR_BACKEND_UNAVAILABLE, naming the Secret Service too when it was skipped', () => {
    const alone = mapped("Couldn't access platform storage: AccessDenied", ku);
    expect(alone.code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect(alone.message).toMatch(/kernel keyring \(keyutils\) refused access/);
    expect(alone.hint).toContain('keyctl session -');
    const both = mapped("Couldn't access platform storage: AccessDenied", {
      ...ku,
      fallback: 'Failed to connect to socket /x: No such file or directory',
    });
    expect(both.message).toMatch(/no D-Bus session bus for the Secret Service .* and the kernel keyring/);
  });

  it('too long (Windows Credential Manager), ambiguous, not text, anything else', () => {
    expect(
      mapped("Attribute 'password' is longer than platform limit of 2560 chars", {
        service: 'keymint',
        store: undefined,
      }).code,
    ).toBe(ErrorCode.ALG_NOT_SUPPORTED);
    expect(mapped('Entry is matched by 2 credentials: [...]').code).toBe(ErrorCode.INPUT_INVALID);
    expect(mapped('Data is not UTF-8 encoded').code).toBe(ErrorCode.INPUT_INVALID);
    const other = mapped('Platform failure: something\nunexpected', ku);
    expect(other.code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect(other.message).toBe(
      'the keychain failed while reading service "keymint", account "a" in the kernel keyring: something unexpected',
    );
  });

  it('hints give a delete command a shell takes as it is', () => {
    expect(deleteCommandFor('keymint', 'abc')).toBe('keymint keychain delete abc');
    expect(deleteCommandFor('keymint', '-abc')).toBe('keymint keychain delete -- -abc');
    expect(deleteCommandFor('my apps', "it's")).toBe(`keymint keychain delete --keychain-service 'my apps' 'it'\\''s'`);
  });
});

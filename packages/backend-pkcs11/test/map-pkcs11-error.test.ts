import { describe, expect, it } from 'vitest';
import { KeymintError } from '@keymint/core';
import { toKeymintError } from '../src/map-pkcs11-error.js';
import { pkcs11Error } from './fixtures/pkcs11-error.js';

describe('PKCS#11 errors become typed KeymintErrors', () => {
  it.each([
    ['CKR_PIN_INCORRECT', 0xa0, 'ERR_PIN_INCORRECT'],
    ['CKR_PIN_LEN_RANGE', 0xa2, 'ERR_PIN_INCORRECT'],
    ['CKR_PIN_LOCKED', 0xa4, 'ERR_PIN_LOCKED'],
    ['CKR_DEVICE_MEMORY', 0x31, 'ERR_TOKEN_FULL'],
    ['CKR_TOKEN_WRITE_PROTECTED', 0xe2, 'ERR_TOKEN_READ_ONLY'],
    ['CKR_SESSION_READ_ONLY', 0xb5, 'ERR_TOKEN_READ_ONLY'],
    ['CKR_MECHANISM_INVALID', 0x70, 'ERR_ALG_NOT_SUPPORTED'],
    ['CKR_KEY_SIZE_RANGE', 0x62, 'ERR_ALG_NOT_SUPPORTED'],
    ['CKR_CURVE_NOT_SUPPORTED', 0x140, 'ERR_ALG_NOT_SUPPORTED'],
    ['CKR_KEY_FUNCTION_NOT_PERMITTED', 0x68, 'ERR_ALG_NOT_SUPPORTED'],
    ['CKR_TOKEN_NOT_PRESENT', 0xe0, 'ERR_TOKEN_NOT_FOUND'],
    ['CKR_DEVICE_REMOVED', 0x32, 'ERR_TOKEN_NOT_FOUND'],
    ['CKR_OBJECT_HANDLE_INVALID', 0x82, 'ERR_KEY_NOT_FOUND'],
    ['CKR_GENERAL_ERROR', 0x5, 'ERR_BACKEND_UNAVAILABLE'],
  ])('%s → %s', (name, code, expected) => {
    const error = toKeymintError(pkcs11Error(name, code), { action: 'creating an EC P-256 key', token: '"hsm"' });
    expect(error.code).toBe(expected);
    expect(error.message).toMatch(/^creating an EC P-256 key on token "hsm" failed: /);
    expect(error.message).toContain(name);
    expect(error.message).not.toMatch(/\n/);
  });

  it.each([
    ['CKR_DEVICE_ERROR', 0x30],
    ['CKR_SESSION_HANDLE_INVALID', 0xb3],
    ['CKR_SESSION_CLOSED', 0xb0],
    ['CKR_CRYPTOKI_NOT_INITIALIZED', 0x190],
  ])(
    '%s (a token that cannot be reached: a forwarding server or network HSM gone) → ERR_BACKEND_UNAVAILABLE, "the token is unavailable"',
    (name, code) => {
      const error = toKeymintError(pkcs11Error(name, code), { action: 'signing with ES256', token: '"hsm"' });
      expect(error.code).toBe('ERR_BACKEND_UNAVAILABLE');
      expect(error.message).toBe(`signing with ES256 on token "hsm" failed: the token is unavailable (${name})`);
      expect(error.hint).toBe(
        'if the token is reached through a server (a network HSM, p11-kit server), check that it runs, then try again',
      );
    },
  );

  it('CKR_KEY_HANDLE_INVALID → ERR_KEY_NOT_FOUND, as CKR_OBJECT_HANDLE_INVALID', () => {
    const error = toKeymintError(pkcs11Error('CKR_KEY_HANDLE_INVALID', 0x60), {
      action: 'signing with ES256',
      token: '"hsm"',
    });
    expect(error.code).toBe('ERR_KEY_NOT_FOUND');
    expect(error.message).toBe(
      'signing with ES256 on token "hsm" failed: the key is gone from the token (CKR_KEY_HANDLE_INVALID)',
    );
  });

  it('names the token in "not supported by this token"', () => {
    const error = toKeymintError(pkcs11Error('CKR_MECHANISM_INVALID', 0x70), {
      action: 'creating an OKP Ed25519 key',
      token: '"tpm"',
    });
    expect(error.message).toBe(
      'creating an OKP Ed25519 key on token "tpm" failed: not supported by this token (CKR_MECHANISM_INVALID)',
    );
  });

  it('passes KeymintErrors through and wraps other errors in one line', () => {
    const own = new KeymintError('ERR_KEY_EXISTS', 'exists');
    expect(toKeymintError(own, { action: 'x' })).toBe(own);
    const other = toKeymintError(new Error('dlopen failed\nmore'), { action: 'loading' });
    expect(other.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(other.message).toBe('loading failed: dlopen failed');
  });
});

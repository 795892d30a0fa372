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
    ['CKR_OBJECT_HANDLE_INVALID', 0x82, 'ERR_KEY_NOT_FOUND'],
    ['CKR_GENERAL_ERROR', 0x5, 'ERR_BACKEND_UNAVAILABLE'],
  ])('%s → %s', (name, code, expected) => {
    const error = toKeymintError(pkcs11Error(name, code), { action: 'creating an EC P-256 key', token: '"hsm"' });
    expect(error.code).toBe(expected);
    expect(error.message).toMatch(/^creating an EC P-256 key on token "hsm" failed: /);
    expect(error.message).toContain(name);
    expect(error.message).not.toMatch(/\n/);
  });

  it('names the token in "not supported by this token"', () => {
    const error = toKeymintError(pkcs11Error('CKR_MECHANISM_INVALID', 0x70), { action: 'creating an OKP Ed25519 key', token: '"tpm"' });
    expect(error.message).toBe('creating an OKP Ed25519 key on token "tpm" failed: not supported by this token (CKR_MECHANISM_INVALID)');
  });

  it('passes KeymintErrors through and wraps other errors in one line', () => {
    const own = new KeymintError('ERR_KEY_EXISTS', 'exists');
    expect(toKeymintError(own, { action: 'x' })).toBe(own);
    const other = toKeymintError(new Error('dlopen failed\nmore'), { action: 'loading' });
    expect(other.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(other.message).toBe('loading failed: dlopen failed');
  });
});

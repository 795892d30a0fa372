import { describe, expect, it } from 'vitest';
import { retryTransient } from '../src/retry-transient.js';
import { pkcs11Error } from './fixtures/pkcs11-error.js';

/** An operation that fails with `error` the first `failures` times. */
function failing(error: Error, failures: number): { calls: () => number; run: () => string } {
  let calls = 0;
  return {
    calls: () => calls,
    run: () => {
      calls += 1;
      if (calls <= failures) throw error;
      return 'ok';
    },
  };
}

describe('retryTransient: a passing CKR_GENERAL_ERROR is tried again, nothing else is', () => {
  it('tries again after CKR_GENERAL_ERROR on a module that reports it in passing (SoftHSM)', async () => {
    const op = failing(pkcs11Error('CKR_GENERAL_ERROR', 0x5), 2);
    expect(await retryTransient({ transientGeneralError: true }, op.run)).toBe('ok');
    expect(op.calls()).toBe(3);
  });

  it('gives up after four tries', async () => {
    const op = failing(pkcs11Error('CKR_GENERAL_ERROR', 0x5), 10);
    await expect(retryTransient({ transientGeneralError: true }, op.run)).rejects.toThrow('CKR_GENERAL_ERROR');
    expect(op.calls()).toBe(4);
  });

  it('never tries a wrong PIN again, nor any error of another module', async () => {
    const pin = failing(pkcs11Error('CKR_PIN_INCORRECT', 0xa0), 1);
    await expect(retryTransient({ transientGeneralError: true }, pin.run)).rejects.toThrow('CKR_PIN_INCORRECT');
    expect(pin.calls()).toBe(1);
    const other = failing(pkcs11Error('CKR_GENERAL_ERROR', 0x5), 1);
    await expect(retryTransient({ transientGeneralError: false }, other.run)).rejects.toThrow('CKR_GENERAL_ERROR');
    expect(other.calls()).toBe(1);
  });
});

describe('isTransient: a token missing from SoftHSM is a passing state only where the caller says so', () => {
  it('counts ERR_TOKEN_NOT_FOUND only when asked, and only on SoftHSM', async () => {
    const { KeymintError } = await import('@keymint/core');
    const { isTransient } = await import('../src/retry-transient.js');
    const missing = new KeymintError('ERR_TOKEN_NOT_FOUND', 'no token matches');
    expect(isTransient({ transientGeneralError: true }, missing, true)).toBe(true);
    expect(isTransient({ transientGeneralError: true }, missing)).toBe(false);
    expect(isTransient({ transientGeneralError: false }, missing, true)).toBe(false);
    expect(isTransient({ transientGeneralError: true }, pkcs11Error('CKR_PIN_INCORRECT', 0xa0), true)).toBe(false);
  });
});

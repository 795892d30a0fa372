import { ErrorCode, KeymintError, message, param } from './errors.js';

/**
 * The rules for passwords and the PBES2 count, in one light module: the CLI's help and the key
 * planner use them without loading the JWE code.
 */

/** PBES2 iteration count written by default (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). */
export const DEFAULT_PBES2_COUNT = 600_000;
/** Highest PBES2 iteration count keymint reads or writes: a bound against denial of service. */
export const MAX_PBES2_COUNT = 1_000_000;
/** Lowest count keymint writes: RFC 7518 §4.8.1.2 recommends at least 1000. */
export const MIN_PBES2_COUNT = 1000;
/** Shortest salt keymint reads, in bytes (RFC 7518 §4.8.1.1). */
export const MIN_P2S_BYTES = 8;

/**
 * Checks a PBES2 iteration count given by a user.
 * @throws KeymintError ERR_PARAM_INVALID outside 1000..1000000
 */
export function checkPbes2Count(count: number | string): number {
  const n = typeof count === 'number' ? count : /^[0-9]+$/.test(count.trim()) ? Number(count.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < MIN_PBES2_COUNT || n > MAX_PBES2_COUNT) {
    throw new KeymintError(
      ErrorCode.PARAM_INVALID,
      message`${param('pbes2Count')} "${String(count)}" is out of range: use a whole number from ${MIN_PBES2_COUNT} to ${MAX_PBES2_COUNT}`,
      { param: 'pbes2Count' },
    );
  }
  return n;
}

/**
 * The one rule for passwords keymint encrypts or decrypts with: not empty.
 * @throws KeymintError ERR_PARAM_INVALID for an empty password
 */
export function checkPassword(password: string): string {
  if (password.length === 0)
    throw new KeymintError(ErrorCode.PARAM_INVALID, 'the password is empty: give a non-empty password', {
      param: 'password',
    });
  return password;
}

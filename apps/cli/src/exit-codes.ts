import { ErrorCode } from '@keymint/core';

/**
 * The one table from error codes to process exit codes. Documented in the README; a code's
 * number never changes.
 */
export const EXIT_CODES: Record<string, number> = {
  [ErrorCode.USAGE]: 2,
  [ErrorCode.PASSWORD_REQUIRED]: 2,
  [ErrorCode.PARAM_INVALID]: 3,
  [ErrorCode.ALG_NOT_SUPPORTED]: 4,
  [ErrorCode.BACKEND_UNAVAILABLE]: 5,
  [ErrorCode.DECRYPT_FAILED]: 6,
  [ErrorCode.FILE_EXISTS]: 7,
  [ErrorCode.IO]: 8,
  [ErrorCode.INPUT_INVALID]: 9,
  [ErrorCode.TOKEN_NOT_FOUND]: 10,
  [ErrorCode.PIN_INCORRECT]: 11,
  [ErrorCode.PIN_LOCKED]: 12,
  [ErrorCode.TOKEN_FULL]: 13,
  [ErrorCode.TOKEN_READ_ONLY]: 14,
  [ErrorCode.KEY_EXISTS]: 15,
  [ErrorCode.KEY_NOT_FOUND]: 16,
  [ErrorCode.BACKEND_LOCKED]: 17,
  [ErrorCode.SIGNATURE_INVALID]: 18,
  [ErrorCode.MODULE_UNTRUSTED]: 19,
};

/** Exit code of an error keymint did not expect: a bug. */
export const EXIT_INTERNAL = 1;
/** Exit code when the user interrupts a prompt with Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export function exitCodeOf(code: string): number {
  return EXIT_CODES[code] ?? EXIT_INTERNAL;
}

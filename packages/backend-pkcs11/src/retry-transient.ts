import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, isKeymintError } from '@keymint/core';
import { pkcs11CodeOf } from './map-pkcs11-error.js';
import type { ModuleQuirks } from './module-quirks.js';
import { CKR } from './pkcs11-constants.js';

/** Pauses before the second, third and fourth try. */
const PAUSES_MS = [25, 100, 300];

/**
 * True when `error` is a passing state on this module: CKR_GENERAL_ERROR, or (when `tokenMissing`
 * counts) a token that is not there, on a module whose quirks say both happen under concurrent use.
 */
export function isTransient(
  quirks: Pick<ModuleQuirks, 'transientGeneralError'>,
  error: unknown,
  tokenMissing = false,
): boolean {
  if (!quirks.transientGeneralError) return false;
  // A KeymintError made from the module's error keeps it as its cause.
  const code = pkcs11CodeOf(error) ?? (error instanceof Error ? pkcs11CodeOf(error.cause) : undefined);
  return code === CKR.GENERAL_ERROR || (tokenMissing && isKeymintError(error, ErrorCode.TOKEN_NOT_FOUND));
}

/**
 * Waits before try number `attempt + 1`, or returns false when there is none left (four tries in all).
 */
export async function pauseBeforeRetry(attempt: number): Promise<boolean> {
  const pause = PAUSES_MS[attempt];
  if (pause === undefined) return false;
  await sleep(pause + Math.floor(Math.random() * pause));
  return true;
}

/**
 * Runs `operation`, and again after a short pause while it fails with CKR_GENERAL_ERROR on a
 * module whose quirks say that is a passing state (SoftHSM under concurrent use); at most four
 * tries. Any other error, and every error of any other module, is thrown at once. Used only for
 * calls that read (slots, token info, sessions) and for C_Login, where CKR_GENERAL_ERROR is never
 * a PIN check: a wrong PIN is CKR_PIN_INCORRECT and is never retried.
 * @example const session = await retryTransient(quirks, () => slot.open(flags));
 */
export async function retryTransient<T>(
  quirks: Pick<ModuleQuirks, 'transientGeneralError'>,
  operation: () => T | Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransient(quirks, error) || !(await pauseBeforeRetry(attempt))) throw error;
    }
  }
}

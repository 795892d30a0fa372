import { ErrorCode, KeymintError } from '@keymint/core';
import { CKR } from './pkcs11-constants.js';

/** What was being done, for the message: "creating an EC P-256 key", "signing with ES256". */
export interface ErrorContext {
  action: string;
  /** The token, as describeTokenBriefly writes it. */
  token?: string;
}

const NAMES = new Map<number, string>(Object.entries(CKR).map(([name, code]) => [code, `CKR_${name}`]));

/** The CKR_* code of an error from the binding, if it is one. */
export function pkcs11CodeOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  if (name === 'Pkcs11Error' && typeof code === 'number') return code;
  if (typeof message === 'string' && /^CKR_/.test(message) && typeof code === 'number') return code;
  return undefined;
}

function nameOf(error: unknown, code: number): string {
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && /^CKR_\w+$/.test(message)) return message;
  return NAMES.get(code) ?? `CKR 0x${code.toString(16)}`;
}

/**
 * What a module answers when the token can no longer be reached: p11-kit's client returns
 * CKR_DEVICE_ERROR for every call once its server is gone, and a module whose token went away
 * under an open session finds the session gone with it.
 */
const UNAVAILABLE: readonly number[] = [
  CKR.DEVICE_ERROR,
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.CRYPTOKI_NOT_INITIALIZED,
];

/** The token left while in use: these and the "token is gone" codes end the sessions with it. */
const GONE: readonly number[] = [...UNAVAILABLE, CKR.DEVICE_REMOVED, CKR.TOKEN_NOT_PRESENT];

/**
 * True when `error` (or the module's error it was made from) says the token can no longer be
 * reached: its sessions are worth nothing now, and the module may need loading afresh.
 * @example if (isTokenUnavailable(error)) await pool.close();
 */
export function isTokenUnavailable(error: unknown): boolean {
  const code = pkcs11CodeOf(error) ?? (error instanceof Error ? pkcs11CodeOf(error.cause) : undefined);
  return code !== undefined && GONE.includes(code);
}

/** What to do about a token that cannot be reached. */
export const UNAVAILABLE_HINT =
  'if the token is reached through a server (a network HSM, p11-kit server), check that it runs, then try again';

const RULES: ReadonlyArray<{ codes: readonly number[]; code: ErrorCode; text: string; hint?: string }> = [
  {
    codes: [CKR.PIN_INCORRECT, CKR.PIN_INVALID, CKR.PIN_LEN_RANGE],
    code: ErrorCode.PIN_INCORRECT,
    text: 'the token refused the PIN',
    hint: 'check the PIN; keymint does not retry, so that the token is not locked',
  },
  {
    codes: [CKR.PIN_LOCKED],
    code: ErrorCode.PIN_LOCKED,
    text: 'the PIN is locked after too many wrong tries',
    hint: "the token's security officer must unlock it (SoftHSM: softhsm2-util has no unlock; re-initialize the PIN with the SO PIN)",
  },
  {
    codes: [CKR.PIN_EXPIRED],
    code: ErrorCode.PIN_LOCKED,
    text: 'the PIN has expired',
    hint: 'set a new PIN with the tools of the token',
  },
  {
    codes: [CKR.DEVICE_MEMORY],
    code: ErrorCode.TOKEN_FULL,
    text: 'the token has no room for another key',
    hint: 'delete keys you no longer need with the tools of the token',
  },
  {
    codes: [CKR.TOKEN_WRITE_PROTECTED, CKR.SESSION_READ_ONLY],
    code: ErrorCode.TOKEN_READ_ONLY,
    text: 'the token is read-only',
  },
  {
    codes: [
      CKR.MECHANISM_INVALID,
      CKR.MECHANISM_PARAM_INVALID,
      CKR.KEY_SIZE_RANGE,
      CKR.CURVE_NOT_SUPPORTED,
      CKR.DOMAIN_PARAMS_INVALID,
    ],
    code: ErrorCode.ALG_NOT_SUPPORTED,
    text: 'not supported by this token',
  },
  {
    codes: [CKR.KEY_FUNCTION_NOT_PERMITTED, CKR.KEY_TYPE_INCONSISTENT],
    code: ErrorCode.ALG_NOT_SUPPORTED,
    text: 'the key is not allowed to do that',
  },
  {
    codes: [CKR.TOKEN_NOT_PRESENT, CKR.TOKEN_NOT_RECOGNIZED, CKR.SLOT_ID_INVALID, CKR.DEVICE_REMOVED],
    code: ErrorCode.TOKEN_NOT_FOUND,
    text: 'the token is gone',
  },
  {
    codes: UNAVAILABLE,
    code: ErrorCode.BACKEND_UNAVAILABLE,
    text: 'the token is unavailable',
    hint: UNAVAILABLE_HINT,
  },
  {
    codes: [CKR.OBJECT_HANDLE_INVALID, CKR.KEY_HANDLE_INVALID],
    code: ErrorCode.KEY_NOT_FOUND,
    text: 'the key is gone from the token',
  },
  {
    codes: [CKR.USER_PIN_NOT_INITIALIZED],
    code: ErrorCode.BACKEND_UNAVAILABLE,
    text: 'the token has no user PIN yet',
    hint: "set one with the token's tools (SoftHSM: softhsm2-util --init-token sets it)",
  },
];

/**
 * Turns an error of the PKCS#11 binding into a KeymintError with a stable code and one line
 * naming the action, the token and the CKR_* value. KeymintErrors pass through unchanged.
 * Binding errors never carry a PIN, and nothing here adds one.
 * @example throw toKeymintError(e, { action: 'creating an RSA 4096 key', token: '"tpm"' })
 */
export function toKeymintError(error: unknown, context: ErrorContext): KeymintError {
  if (error instanceof KeymintError) return error;
  const where = context.token === undefined ? '' : ` on token ${context.token}`;
  const code = pkcs11CodeOf(error);
  if (code === undefined) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    return new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `${context.action}${where} failed: ${message}`, {
      cause: error,
    });
  }
  const name = nameOf(error, code);
  const rule = RULES.find((r) => r.codes.includes(code));
  if (rule === undefined) {
    return new KeymintError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `${context.action}${where} failed: the module returned ${name}`,
      { cause: error },
    );
  }
  return new KeymintError(rule.code, `${context.action}${where} failed: ${rule.text} (${name})`, {
    cause: error,
    ...(rule.hint === undefined ? {} : { hint: rule.hint }),
  });
}

/**
 * Stable error codes. A code, once published, is never renamed: programs match on it and the CLI
 * maps it to an exit code.
 */
export const ErrorCode = {
  /** The command line is malformed: unknown flag, missing argument, conflicting flags. */
  USAGE: 'ERR_USAGE',
  /** A key parameter (kty, crv, size, alg, use, kid, pbes2 count) is not acceptable. */
  PARAM_INVALID: 'ERR_PARAM_INVALID',
  /** The backend (or the token behind it) cannot make or use this kind of key. */
  ALG_NOT_SUPPORTED: 'ERR_ALG_NOT_SUPPORTED',
  /** The backend cannot be loaded or reached (missing native library, no keychain, no module). */
  BACKEND_UNAVAILABLE: 'ERR_BACKEND_UNAVAILABLE',
  /** A password is needed and there is no way to get one (no file, no TTY). */
  PASSWORD_REQUIRED: 'ERR_PASSWORD_REQUIRED',
  /** Decryption failed: wrong password or tampered ciphertext. */
  DECRYPT_FAILED: 'ERR_DECRYPT_FAILED',
  /** Input data (PEM, JWK, JWE, key reference) is malformed or refused as unsafe. */
  INPUT_INVALID: 'ERR_INPUT_INVALID',
  /** An output file exists and --force was not given. */
  FILE_EXISTS: 'ERR_FILE_EXISTS',
  /** A file could not be read or written: missing, a directory, no permission. */
  IO: 'ERR_IO',
  /** No token (HSM, TPM) matches the URI. */
  TOKEN_NOT_FOUND: 'ERR_TOKEN_NOT_FOUND',
  /** The token refused the PIN. */
  PIN_INCORRECT: 'ERR_PIN_INCORRECT',
  /** The token's PIN is locked after too many wrong tries. */
  PIN_LOCKED: 'ERR_PIN_LOCKED',
  /** The token has no room for another key. */
  TOKEN_FULL: 'ERR_TOKEN_FULL',
  /** The token or store cannot be written. */
  TOKEN_READ_ONLY: 'ERR_TOKEN_READ_ONLY',
  /** A key with that label, id or account already exists in the backend. */
  KEY_EXISTS: 'ERR_KEY_EXISTS',
  /** The key a reference points at is not in its backend (deleted, or the wrong token). */
  KEY_NOT_FOUND: 'ERR_KEY_NOT_FOUND',
  /** The backend's store is locked and cannot be unlocked without a prompt it may not show. */
  BACKEND_LOCKED: 'ERR_BACKEND_LOCKED',
  /** A signature or token did not verify, or a token's claims (exp, nbf) make it invalid now. */
  SIGNATURE_INVALID: 'ERR_SIGNATURE_INVALID',
  /**
   * Native code (a PKCS#11 module) that keymint was asked to load is not one the user or the system
   * trusts: it was named by a data file (a key reference), not registered, not in a system module
   * directory and not named by the user.
   */
  MODULE_UNTRUSTED: 'ERR_MODULE_UNTRUSTED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A parameter's name inside a message: an API user reads `crv`, the CLI shows its flag `--crv`. */
export interface ParamName {
  readonly param: string;
}

/** A message as text and parameter names; `KeymintError.render` writes the names as a caller wants. */
export type MessageParts = readonly (string | ParamName)[];

/** Marks a parameter name in a message built with `message`. */
export function param(name: string): ParamName {
  return { param: name };
}

const isParamName = (value: unknown): value is ParamName =>
  value !== null && typeof value === 'object' && typeof (value as ParamName).param === 'string';

/**
 * Builds a message whose parameter names stay marked: message`${param('crv')} "${crv}" is not a curve`.
 * Values that are not `param(...)` are written as text.
 */
export function message(strings: TemplateStringsArray, ...values: unknown[]): MessageParts {
  const parts: (string | ParamName)[] = [];
  strings.forEach((text, i) => {
    parts.push(text);
    if (i < values.length) parts.push(isParamName(values[i]) ? (values[i] as ParamName) : String(values[i]));
  });
  return parts;
}

function renderParts(parts: string | MessageParts | undefined, name: (param: string) => string): string | undefined {
  if (parts === undefined || typeof parts === 'string') return parts;
  return parts.map((part) => (typeof part === 'string' ? part : name(part.param))).join('');
}

export interface KeymintErrorOptions {
  cause?: unknown;
  /** A short suggestion of what to do next, shown after the message. */
  hint?: string | MessageParts;
  /** The parameter the error is about (`crv`, `size` ...), for programs that point at a field. */
  param?: string;
}

/** Marks keymint's errors across copies of this package (a plug-in may bring its own @keymint/core). */
const BRAND = Symbol.for('keymint.error');

/**
 * The one error class keymint throws on purpose. Its message is a single line that names what was
 * wrong and what is accepted; it never contains a password, PIN or private key. Parameters are
 * named as the API names them (`crv`); `render` writes them otherwise (the CLI: `--crv`).
 */
export class KeymintError extends Error {
  override readonly name = 'KeymintError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** The parameter the error is about, when it is about one. */
  readonly param: string | undefined;
  readonly #parts: { message: string | MessageParts; hint: string | MessageParts | undefined };

  constructor(code: ErrorCode, text: string | MessageParts, options: KeymintErrorOptions = {}) {
    const asIs = (name: string) => name;
    super(renderParts(text, asIs), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = renderParts(options.hint, asIs);
    this.param = options.param;
    this.#parts = { message: text, hint: options.hint };
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * The message and hint with each parameter name written by `name`.
   * @example error.render((p) => `--${p}`) // { message: '--crv "P-999" is not a curve ...' }
   */
  render(name: (param: string) => string): { message: string; hint: string | undefined } {
    return { message: renderParts(this.#parts.message, name) as string, hint: renderParts(this.#parts.hint, name) };
  }
}

/**
 * True when `error` is a KeymintError (from this copy of @keymint/core or another one), optionally
 * with the given code.
 * @example if (isKeymintError(e, ErrorCode.FILE_EXISTS)) retryWithForce();
 */
export function isKeymintError(error: unknown, code?: ErrorCode): error is KeymintError {
  const ours =
    error instanceof KeymintError ||
    (error !== null && typeof error === 'object' && (error as Record<symbol, unknown>)[BRAND] === true);
  return ours && (code === undefined || (error as KeymintError).code === code);
}

/** Formats a list of accepted values for an error message: `a, b or c`. */
export function oneOf(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

import { expect } from 'vitest';

/**
 * What the kit sees of a KeymintError. The kit cannot import @keymint/core: core's own tests use
 * the kit, and a package cannot be built before itself.
 */
export interface KeymintErrorLike extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly param: string | undefined;
  /** The message and hint with parameter names written by `name` (core's KeymintError.render). */
  render(name: (param: string) => string): { message: string; hint?: string | undefined };
}

/**
 * An error's message and hint as the command line shows them: parameters as flags (`crv` is
 * `--crv`, `clientId` `--client-id`), the way the CLI writes them.
 */
export function asCommandLine(error: KeymintErrorLike): string {
  const { message, hint } = error.render((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return hint === undefined ? message : `${message}; ${hint}`;
}

// @keymint/core marks every KeymintError with this symbol so that errors from any copy of the
// package are recognised (its isKeymintError); core's tests throw errors of core's sources, the
// other tests of core's build, so `instanceof` would tell copies apart, not errors.
const BRAND = Symbol.for('keymint.error');

const NOTHING = Symbol('nothing thrown');

function describeValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return value === NOTHING ? 'no error at all' : String(value);
}

/** The checks every expected keymint failure passes: a KeymintError, of `code`, message and hint one line each. */
function expectKeymintError<E extends KeymintErrorLike>(error: unknown, code?: string, message?: RegExp): E {
  const branded = error instanceof Error && (error as unknown as Record<symbol, unknown>)[BRAND] === true;
  const expected = `expected a KeymintError${code === undefined ? '' : ` ${code}`}`;
  expect(branded, `${expected}, got ${describeValue(error)}`).toBe(true);
  const keymintError = error as E;
  if (code !== undefined) expect(keymintError.code, keymintError.message).toBe(code);
  if (message !== undefined) expect(keymintError.message).toMatch(message);
  expect(keymintError.message, 'the message is one line').not.toMatch(/\n/);
  if (keymintError.hint !== undefined) expect(keymintError.hint, 'the hint is one line').not.toMatch(/\n/);
  return keymintError;
}

/**
 * Awaits a promise that must reject with a KeymintError (of `code`, with a message matching
 * `message`, when given) whose message and hint are one line each, and returns the error. `E`
 * names the error's full type where a test needs more than code, message, hint and param.
 * @example expect((await rejection(openKey(path), 'ERR_DECRYPT_FAILED')).message).toContain(path);
 */
export async function rejection<E extends KeymintErrorLike = KeymintErrorLike>(
  promise: Promise<unknown>,
  code?: string,
  message?: RegExp,
): Promise<E> {
  const error = await promise.then(
    () => NOTHING,
    (e: unknown) => e,
  );
  return expectKeymintError<E>(error, code, message);
}

/**
 * The KeymintError that `fn` throws, checked as `rejection` checks it.
 * @example thrown(() => parseKeySet('[]'), 'ERR_INPUT_INVALID', /not a JWK Set/);
 */
export function thrown<E extends KeymintErrorLike = KeymintErrorLike>(
  fn: () => unknown,
  code?: string,
  message?: RegExp,
): E {
  let error: unknown = NOTHING;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return expectKeymintError<E>(error, code, message);
}

/** What a finished process left: its exit code (null when killed) and its stderr. */
export interface ExitedRun {
  code: number | null;
  stderr: string;
}

/**
 * A run that succeeded: exit 0 (its stderr, and `what` it was, in the failure message) and no
 * stack trace on stderr.
 * @example expectOk(await keymint(['create', ...], { cwd: dir }));
 */
export function expectOk<T extends ExitedRun>(result: T, what?: string): T {
  const label = what === undefined ? '' : `${what}: `;
  expect(result.stderr, `${label}no stack trace`).not.toMatch(/^\s+at /m);
  expect(result.code, `${label}stderr: ${result.stderr}`).toBe(0);
  return result;
}

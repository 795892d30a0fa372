import { expect } from 'vitest';
import { KeymintError } from '../../src/errors.js';

/** The KeymintError that `fn` throws; fails the test when it throws nothing or something else. */
export function thrown(fn: () => unknown): KeymintError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeymintError);
    return error as KeymintError;
  }
  throw new Error('expected an error');
}

/**
 * An error's message and hint as the command line shows them: parameters as flags (`crv` is
 * `--crv`, `clientId` `--client-id`), the way the CLI's formatError writes them.
 */
export function asCommandLine(error: KeymintError): string {
  const { message, hint } = error.render((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return hint === undefined ? message : `${message}; ${hint}`;
}

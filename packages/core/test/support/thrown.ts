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

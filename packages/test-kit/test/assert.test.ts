import { describe, expect, it } from 'vitest';
import { expectOk, rejection, thrown } from '../src/assert.js';

/** An error as @keymint/core makes them: its brand, a code, a one-line message and hint. */
function keymintError(code: string, message: string, hint?: string): Error {
  const error = Object.assign(new Error(message), { name: 'KeymintError', code, hint, param: undefined });
  Object.defineProperty(error, Symbol.for('keymint.error'), { value: true });
  return error;
}

// The helpers are what every other test's failures go through: each check must be able to fail.
describe('rejection and thrown', () => {
  it('return the KeymintError, checking its code and message when given', async () => {
    const error = keymintError('ERR_IO', 'file x: is a directory');
    expect(await rejection(Promise.reject(error), 'ERR_IO', /is a directory/)).toBe(error);
    expect(
      thrown(() => {
        throw error;
      }),
    ).toBe(error);
  });

  const NOTHING = Symbol('nothing');
  it.each([
    ['nothing', NOTHING, /expected a KeymintError ERR_IO, got no error at all/],
    ['a plain Error', new Error('boom'), /expected a KeymintError ERR_IO, got Error: boom/],
    [
      'an unbranded error named KeymintError',
      Object.assign(new Error('x'), { name: 'KeymintError', code: 'ERR_IO' }),
      /a KeymintError/,
    ],
    ['another code', keymintError('ERR_USAGE', 'bad flag'), /expected 'ERR_USAGE' to be 'ERR_IO'/],
    ['another message', keymintError('ERR_IO', 'disk full'), /to match \/is a directory\//],
    ['a message of two lines', keymintError('ERR_IO', 'is a directory\n    at x'), /the message is one line/],
    ['a hint of two lines', keymintError('ERR_IO', 'is a directory', 'a\nb'), /the hint is one line/],
  ])('fail on %s', async (_name, outcome, why) => {
    const promise = outcome === NOTHING ? Promise.resolve('fine') : Promise.reject(outcome);
    await expect(rejection(promise, 'ERR_IO', /is a directory/)).rejects.toThrow(why);
    const fn = () => {
      if (outcome !== NOTHING) throw outcome;
    };
    expect(() => thrown(fn, 'ERR_IO', /is a directory/)).toThrow(why);
  });
});

describe('expectOk', () => {
  it('passes exit 0 and fails another exit code or a stack trace, showing stderr', () => {
    const ok = { code: 0, stderr: 'keymint: wrote k.json\n' };
    expect(expectOk(ok)).toBe(ok);
    expect(() => expectOk({ code: 9, stderr: 'keymint: bad input\n' })).toThrow(/stderr: keymint: bad input/);
    expect(() => expectOk({ code: null, stderr: '' })).toThrow();
    expect(() => expectOk({ code: 0, stderr: 'Error: x\n    at main (bin.js:1:1)\n' })).toThrow(/no stack trace/);
  });
});

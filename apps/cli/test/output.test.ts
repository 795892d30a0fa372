import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, KeymintError } from '@keymint/core';
import { EXIT_CODES, exitCodeOf } from '../src/exit-codes.js';
import { flagOf, formatError, reportError, runAction, table, terminalSafe, type OutputStreams } from '../src/output.js';

function capture(): OutputStreams & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t) };
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('exit codes', () => {
  it('gives every error code its own documented number, and none twice except usage', () => {
    for (const code of Object.values(ErrorCode)) expect(EXIT_CODES[code], code).toBeGreaterThan(1);
    const numbers = Object.entries(EXIT_CODES)
      .filter(([code]) => code !== ErrorCode.PASSWORD_REQUIRED)
      .map(([, n]) => n);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(exitCodeOf('ERR_SOMETHING_NEW')).toBe(1);
  });
});

describe('runAction', () => {
  it('prints notes on stderr and data on stdout', async () => {
    const io = capture();
    await runAction(false, async () => ({ json: { a: 1 }, stdout: 'data', notes: ['done'] }), io);
    expect(io.out).toEqual(['data\n']);
    expect(io.err).toEqual(['done\n']);
    expect(process.exitCode).toBeUndefined();
  });

  it('prints only JSON with --json', async () => {
    const io = capture();
    await runAction(true, async () => ({ json: { a: 1 }, stdout: 'data', notes: ['done'] }), io);
    expect(JSON.parse(io.out.join(''))).toEqual({ a: 1 });
    expect(io.err).toEqual([]);
  });

  it('turns a KeymintError into one line and its exit code', async () => {
    const io = capture();
    await runAction(
      false,
      async () => {
        throw new KeymintError(ErrorCode.FILE_EXISTS, 'k.json already exists', { hint: 'use --force' });
      },
      io,
    );
    expect(io.err).toEqual(['keymint: k.json already exists; use --force\n']);
    expect(process.exitCode).toBe(7);
  });

  it('reports an error as JSON with --json', async () => {
    const io = capture();
    await runAction(
      true,
      async () => {
        throw new KeymintError(ErrorCode.PARAM_INVALID, 'bad\nsize');
      },
      io,
    );
    expect(JSON.parse(io.out.join(''))).toEqual({ error: { code: 'ERR_PARAM_INVALID', message: 'bad size' } });
    expect(io.err).toEqual([]);
    expect(process.exitCode).toBe(3);
  });

  it('reports an unexpected error as internal, exit 1, without a stack', () => {
    const io = capture();
    reportError(new TypeError('x is undefined'), false, io);
    expect(io.err).toEqual(['keymint: internal error: x is undefined\n']);
    expect(process.exitCode).toBe(1);
  });

  it('formats multi-line messages and hints as one line', () => {
    expect(formatError(new KeymintError(ErrorCode.IO, 'a\n  b', { hint: 'c\nd' }))).toBe('a b; c d');
  });
});

describe('text from input on a terminal (issue 9, class 6)', () => {
  const hostile = 'k\u001b]0;owned\u0007\u001b[2J\r\u009b31m\u202eevil\u2066x\u0000';

  it('escapes every control character, keeping only tab and newline outside one-line text', () => {
    expect(terminalSafe(hostile)).toBe('k\\u001b]0;owned\\u0007\\u001b[2J\\u000d\\u009b31m\\u202eevil\\u2066x\\u0000');
    expect(terminalSafe('a\tb\nc')).toBe('a\tb\nc');
    expect(terminalSafe('a\tb\nc', true)).toBe('a\\u0009b\\u000ac');
    expect(terminalSafe('plain kid-1 é ü 日本')).toBe('plain kid-1 é ü 日本');
  });

  it('escapes notes and errors always, stdout only on a terminal, and keeps --json valid JSON', async () => {
    const piped = capture();
    await runAction(
      false,
      async () => ({ json: null, stdout: `payload ${hostile}`, notes: [`kid "${hostile}"\nsecond line`] }),
      piped,
    );
    expect(piped.err.join('')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2066]/);
    expect(piped.err).toHaveLength(1);
    expect(piped.out.join('')).toBe(`payload ${hostile}\n`);

    const terminal = { ...capture(), stdoutIsTerminal: true };
    await runAction(false, async () => ({ json: null, stdout: `payload ${hostile}\nline 2` }), terminal);
    expect(terminal.out.join('')).toBe(`payload ${terminalSafe(hostile)}\nline 2\n`);

    const json = capture();
    await runAction(true, async () => ({ json: { kid: hostile } }), json);
    expect(json.out.join('')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2066]/);
    expect(JSON.parse(json.out.join(''))).toEqual({ kid: hostile });

    const error = capture();
    await runAction(
      false,
      async () => {
        throw new KeymintError(ErrorCode.KEY_NOT_FOUND, `jwks.json has no key with kid "${hostile}"`);
      },
      error,
    );
    expect(error.err.join('')).toMatch(/^keymint: jwks\.json has no key with kid "k\\u001b\]0;owned/);
    expect(error.err.join('')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2066]/);
  });

  it('lays out tables with every cell on one line', () => {
    expect(
      table([
        ['KID', 'KTY'],
        ['a\nb', 'EC'],
        ['long-kid', '\u001bRSA'],
      ]),
    ).toEqual(['KID       KTY', 'a\\u000ab  EC', 'long-kid  \\u001bRSA']);
  });
});

describe('parameter names in core messages', () => {
  it('are the API names in the message and flags on the command line', async () => {
    const { resolveKeySpec } = await import('@keymint/core');
    let error: KeymintError | undefined;
    try {
      resolveKeySpec({ kty: 'EC', crv: 'P-999' as never });
    } catch (e) {
      error = e as KeymintError;
    }
    expect(error?.message).toBe('crv "P-999" is not a curve for kty EC: use P-256, P-384, P-521 or secp256k1');
    expect(error?.param).toBe('crv');
    expect(formatError(error as KeymintError)).toBe(
      '--crv "P-999" is not a curve for --kty EC: use P-256, P-384, P-521 or secp256k1',
    );
    expect(flagOf('pbes2Count')).toBe('--pbes2-count');
  });
});

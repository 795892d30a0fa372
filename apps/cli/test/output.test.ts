import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, KeymintError } from '@keymint/core';
import { EXIT_CODES, exitCodeOf } from '../src/exit-codes.js';
import { formatError, reportError, runAction, type OutputStreams } from '../src/output.js';

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
    const numbers = Object.entries(EXIT_CODES).filter(([code]) => code !== ErrorCode.PASSWORD_REQUIRED).map(([, n]) => n);
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
    await runAction(false, async () => {
      throw new KeymintError(ErrorCode.FILE_EXISTS, 'k.json already exists', { hint: 'use --force' });
    }, io);
    expect(io.err).toEqual(['keymint: k.json already exists; use --force\n']);
    expect(process.exitCode).toBe(7);
  });

  it('reports an error as JSON with --json', async () => {
    const io = capture();
    await runAction(true, async () => {
      throw new KeymintError(ErrorCode.PARAM_INVALID, 'bad\nsize');
    }, io);
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

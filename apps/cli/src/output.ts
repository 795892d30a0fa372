import { isKeymintError, type KeymintError } from '@keymint/core';
import { EXIT_INTERNAL, EXIT_INTERRUPTED, exitCodeOf } from './exit-codes.js';
import { PromptInterrupted } from './prompt.js';

/** What a command returns: data for --json, and the lines a person reads otherwise. */
export interface CommandResult {
  json: unknown;
  /** Printed on stdout in human mode (data a user may pipe). */
  stdout?: string;
  /** Bytes printed on stdout in human mode exactly as they are, no newline added (a decrypted payload); escaped text on a terminal. */
  stdoutBytes?: Uint8Array;
  /** Printed on stderr in human mode (what happened, notes). */
  notes?: string[];
}

export interface OutputStreams {
  stdout: (text: string) => void;
  /** Writes bytes as they are; default: through `stdout` as UTF-8. */
  stdoutBytes?: (bytes: Uint8Array) => void;
  stderr: (text: string) => void;
  /** Whether standard output is a terminal (then data printed there is escaped too). */
  stdoutIsTerminal?: boolean;
}

const processStreams: OutputStreams = {
  stdout: (text) => process.stdout.write(text),
  stdoutBytes: (bytes) => process.stdout.write(bytes),
  stderr: (text) => process.stderr.write(text),
  get stdoutIsTerminal() {
    return process.stdout.isTTY === true;
  },
};

/**
 * Characters that let text move the cursor, retitle or clear a terminal, hide what follows, or
 * reorder a line: C0 and C1 controls, DEL, and Unicode's bidirectional and line-separator
 * controls. Tab and newline are kept: they only lay text out.
 */
const TERMINAL_CONTROLS =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const LINE_CONTROLS = /[\t\n]/g;

const escaped = (ch: string) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/**
 * Text from input (a kid, a claim, a file name, a token label) made safe to show on a terminal:
 * every control character becomes a visible `\uXXXX`, which also keeps JSON text valid JSON.
 * With `oneLine`, tab and newline are escaped too, so a value cannot add a line of its own.
 * @example terminalSafe('kid\u001b[2J') // 'kid\\u001b[2J'
 */
export function terminalSafe(text: string, oneLine = false): string {
  const safe = text.replace(TERMINAL_CONTROLS, escaped);
  return oneLine ? safe.replace(LINE_CONTROLS, escaped) : safe;
}

function oneLine(text: string): string {
  return terminalSafe(text.replace(/\s*\n\s*/g, ' ').trim(), true);
}

/**
 * The flag of a parameter core names in a message: `crv` is --crv, `pbes2Count` --pbes2-count.
 * The one place where the API's names become the command line's.
 */
export function flagOf(param: string): string {
  return FLAG_EXCEPTIONS[param] ?? `--${param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The parameters whose flag is not their name in kebab case. */
const FLAG_EXCEPTIONS: Record<string, string> = { unencrypted: '--no-password' };

/** The single line a person sees for an error: the message, then the hint, parameters as flags. */
export function formatError(error: KeymintError): string {
  const { message, hint } = typeof error.render === 'function' ? error.render(flagOf) : error;
  return oneLine(hint === undefined ? message : `${message}; ${hint}`);
}

/**
 * Rows as aligned columns, for people: every cell on one line, escaped (cells hold kids, labels
 * and other input), two spaces between columns.
 */
export function table(rows: readonly (readonly string[])[]): string[] {
  const cells = rows.map((r) => r.map((cell) => terminalSafe(cell, true)));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
  return cells.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Reports an error and sets the exit code from the one table. Stack traces only with
 * KEYMINT_DEBUG=1, and only for errors keymint did not expect.
 */
export function reportError(error: unknown, json: boolean, out: OutputStreams = processStreams): void {
  if (error instanceof PromptInterrupted) {
    out.stderr('keymint: interrupted\n');
    process.exitCode = EXIT_INTERRUPTED;
    return;
  }
  const known = isKeymintError(error);
  const code = known ? error.code : 'ERR_INTERNAL';
  const message = known
    ? formatError(error)
    : `internal error: ${oneLine(error instanceof Error ? error.message : String(error))}`;
  if (json) out.stdout(`${terminalSafe(JSON.stringify({ error: { code, message } }, null, 2))}\n`);
  else out.stderr(`keymint: ${message}\n`);
  if (!known && process.env.KEYMINT_DEBUG === '1' && error instanceof Error) out.stderr(`${error.stack ?? ''}\n`);
  process.exitCode = known ? exitCodeOf(code) : EXIT_INTERNAL;
}

/** Runs a command action and prints its result: JSON on stdout with --json, else human text. */
export async function runAction(
  json: boolean,
  action: () => Promise<CommandResult>,
  out: OutputStreams = processStreams,
): Promise<void> {
  try {
    const result = await action();
    if (json) {
      out.stdout(`${terminalSafe(JSON.stringify(result.json, null, 2))}\n`);
      return;
    }
    for (const note of result.notes ?? []) out.stderr(`${oneLine(note)}\n`);
    if (result.stdoutBytes !== undefined) {
      if (out.stdoutIsTerminal === true) {
        const text = terminalSafe(Buffer.from(result.stdoutBytes).toString('utf8'));
        out.stdout(text.endsWith('\n') ? text : `${text}\n`);
      } else if (out.stdoutBytes !== undefined) out.stdoutBytes(result.stdoutBytes);
      else out.stdout(Buffer.from(result.stdoutBytes).toString('utf8'));
    }
    if (result.stdout !== undefined) {
      // Data goes out as it is to a pipe or file (a payload, a PEM); a terminal gets it escaped.
      const text = out.stdoutIsTerminal === true ? terminalSafe(result.stdout) : result.stdout;
      out.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
  } catch (error) {
    reportError(error, json, out);
  }
}

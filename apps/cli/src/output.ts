import { isKeymintError, type KeymintError } from '@keymint/core';
import { EXIT_INTERNAL, EXIT_INTERRUPTED, exitCodeOf } from './exit-codes.js';
import { PromptInterrupted } from './prompt.js';

/** What a command returns: data for --json, and the lines a person reads otherwise. */
export interface CommandResult {
  json: unknown;
  /** Printed on stdout in human mode (data a user may pipe). */
  stdout?: string;
  /** Printed on stderr in human mode (what happened, notes). */
  notes?: string[];
}

export interface OutputStreams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processStreams: OutputStreams = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The single line a person sees for an error: the message, then the hint. */
export function formatError(error: KeymintError): string {
  return oneLine(error.hint === undefined ? error.message : `${error.message}; ${error.hint}`);
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
  const message = known ? formatError(error) : `internal error: ${oneLine(error instanceof Error ? error.message : String(error))}`;
  if (json) out.stdout(JSON.stringify({ error: { code, message } }, null, 2) + '\n');
  else out.stderr(`keymint: ${message}\n`);
  if (!known && process.env.KEYMINT_DEBUG === '1' && error instanceof Error) out.stderr(`${error.stack ?? ''}\n`);
  process.exitCode = known ? exitCodeOf(code) : EXIT_INTERNAL;
}

/** Runs a command action and prints its result: JSON on stdout with --json, else human text. */
export async function runAction(json: boolean, action: () => Promise<CommandResult>, out: OutputStreams = processStreams): Promise<void> {
  try {
    const result = await action();
    if (json) {
      out.stdout(JSON.stringify(result.json, null, 2) + '\n');
      return;
    }
    for (const note of result.notes ?? []) out.stderr(`${note}\n`);
    if (result.stdout !== undefined) out.stdout(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
  } catch (error) {
    reportError(error, json, out);
  }
}

import { closeSync, openSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ReadStream, WriteStream } from 'node:tty';
import { ErrorCode, KeymintError, checkPassword } from '@keymint/core';

/** Thrown when the user presses Ctrl-C or Ctrl-D at a prompt. */
export class PromptInterrupted extends Error {}

function openTerminal(): { input: ReadStream; output: WriteStream; close: () => void } | undefined {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return undefined;
  }
  const input = new ReadStream(fd);
  const output = new WriteStream(fd);
  return {
    input,
    output,
    close: () => {
      input.setRawMode(false);
      input.destroy();
      try {
        closeSync(fd);
      } catch {
        // already closed by the stream
      }
    },
  };
}

/**
 * Reads a secret from the controlling terminal with echo off. The terminal is used even when
 * stdin and stdout are redirected, so `keymint ... - < payload` can still ask.
 * @throws KeymintError ERR_PASSWORD_REQUIRED when there is no terminal
 */
export async function promptSecret(question: string, noTerminal: () => KeymintError): Promise<string> {
  const tty = openTerminal();
  if (tty === undefined) throw noTerminal();
  const { input, output } = tty;
  // Echo goes off before the question appears, so nothing typed early is shown.
  input.setRawMode(true);
  output.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = '';
      input.on('data', (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            output.write('\n');
            resolve(answer);
            return;
          }
          if (ch === '\u0003' || ch === '\u0004') {
            output.write('\n');
            reject(new PromptInterrupted());
            return;
          }
          if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
          else if (ch >= ' ') answer += ch;
        }
      });
    });
  } finally {
    tty.close();
  }
}

/**
 * Asks for a new password twice on the terminal and checks the two agree.
 * @throws KeymintError ERR_PASSWORD_REQUIRED (no terminal), ERR_PARAM_INVALID (mismatch or empty)
 */
export async function promptNewPassword(what: string, noTerminal: () => KeymintError): Promise<string> {
  const first = await promptSecret(`Please enter the password to encrypt ${what}: `, noTerminal);
  checkPassword(first);
  const second = await promptSecret('Please enter the same password again: ', noTerminal);
  if (first !== second) throw new KeymintError(ErrorCode.PARAM_INVALID, 'the two passwords do not match');
  return first;
}

/**
 * Asks a yes/no question on the controlling terminal, echo on; undefined when there is none.
 * The terminal stays in its normal mode: it echoes and edits the line, and Ctrl-C interrupts.
 * @throws PromptInterrupted on Ctrl-D (end of input)
 */
export async function askYesNo(question: string): Promise<boolean | undefined> {
  const tty = openTerminal();
  if (tty === undefined) return undefined;
  const reader = createInterface({ input: tty.input, output: tty.output, terminal: false });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      reader.on('close', () => reject(new PromptInterrupted()));
      reader.question(question, (answer) => resolve(/^y(es)?$/i.test(answer.trim())));
    });
  } finally {
    reader.removeAllListeners('close');
    reader.close();
    tty.close();
  }
}

/**
 * Whether existing files may be replaced, as step asks: each file that exists is named and a
 * person on the terminal says y (the default is no). True with `force`, or when every file that
 * exists was confirmed; false when none exists (so nothing that appears meanwhile is replaced) or
 * nobody can answer (no terminal, --json): the caller's refusal of existing files then stands.
 * @throws KeymintError ERR_FILE_EXISTS when the answer is no
 * @throws PromptInterrupted on Ctrl-C or Ctrl-D
 */
export async function confirmOverwrite(
  paths: readonly string[],
  options: { force?: boolean | undefined; json?: boolean | undefined },
): Promise<boolean> {
  if (options.force) return true;
  const existing = paths.filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
  if (existing.length === 0 || options.json) return false;
  for (const path of existing) {
    const answer = await askYesNo(`${path} already exists. Overwrite it? [y/N] `);
    if (answer === undefined) return false;
    if (!answer) {
      throw new KeymintError(ErrorCode.FILE_EXISTS, `${path} already exists and was kept: nothing was written`, {
        hint: 'answer y, or give --force to replace it',
      });
    }
  }
  return true;
}

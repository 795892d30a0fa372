import { ErrorCode, KeymintError } from '@keymint/core';
import { readPasswordFile } from '@keymint/core/files';
import { promptNewPassword, promptSecret } from './prompt.js';

export interface PasswordSource {
  /** A file that holds the password. */
  file?: string | undefined;
  /** Never prompt (--json, or a script): fail instead. */
  noPrompt: boolean;
  /** The flag to name in messages, e.g. --password-file. */
  flag: string;
}

function required(what: string, source: PasswordSource, extraHint = ''): () => KeymintError {
  return () =>
    new KeymintError(
      ErrorCode.PASSWORD_REQUIRED,
      `a password is needed to ${what} and there is no terminal to ask for it`,
      {
        hint: `give it with ${source.flag} FILE${extraHint}`,
      },
    );
}

/**
 * The password for a new encrypted file: from the file, else asked twice on the terminal.
 * @throws KeymintError ERR_PASSWORD_REQUIRED when there is neither
 */
export async function newPassword(what: string, source: PasswordSource, extraHint = ''): Promise<string> {
  if (source.file !== undefined) return readPasswordFile(source.file, source.flag);
  const fail = required(`encrypt ${what}`, source, extraHint);
  if (source.noPrompt) throw fail();
  return promptNewPassword(what, fail);
}

/**
 * The password of an existing encrypted input: from the file, else asked once on the terminal.
 * @throws KeymintError ERR_PASSWORD_REQUIRED when there is neither
 */
export async function existingPassword(what: string, source: PasswordSource): Promise<string> {
  if (source.file !== undefined) return readPasswordFile(source.file, source.flag);
  const fail = required(`decrypt ${what}`, source);
  if (source.noPrompt) throw fail();
  return promptSecret(`Please enter the password to decrypt ${what}: `, fail);
}

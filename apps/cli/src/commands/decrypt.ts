import { stat } from 'node:fs/promises';
import { ErrorCode, KeymintError, isPrivateJwk, type OpenedKey } from '@keymint/core';
import { MAX_JWE_LENGTH, decrypt } from '@keymint/core/jose';
import type { Command } from 'commander';
import { addBackendFlags } from '../backends.js';
import { PASSWORD_FILE_HELP, type CommandContext } from '../command.js';
import { assertOneStdin, readKeyDocument, readPayload, requireKey, STDIN, withKeyInputs } from '../key-input.js';
import type { KeyInputOptions, KeyInputs } from '../key-input.js';
import { runAction, type CommandResult } from '../output.js';

/** Adds `keymint decrypt` to the program, with the backends' flags (a key reference may need them). */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const command = program
    .command('decrypt')
    .description(
      'decrypt a JWE (compact, flattened or general JSON) with a private key of any form; print the plaintext',
    )
    .argument('[jwe]', 'the JWE itself, a file holding it, or - for standard input (the default)')
    .option(
      '--key <file>',
      'the private key: encrypted or plain JWK, key reference (HSM, TPM, keychain), JWK Set of private keys',
    )
    .option('--subtle', 'allow RSA1_5 (open to padding-oracle attacks)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object (plaintext, header, alg, enc, kid); never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint decrypt --key key.json message.jwe > message.txt
  $ keymint decrypt --key hsm-key.json - < id_token.jwe     # decrypted inside the HSM
Exit code 0: decrypted; 6: it does not decrypt with the key (wrong key, or changed); 9: not a JWE keymint reads.`,
    );
  addBackendFlags(command, await context.backends());
  command.action(async (jwe: string | undefined, options: DecryptCommandOptions) => {
    await runAction(options.json ?? false, () => decryptCommand(jwe, options));
  });
}

export interface DecryptCommandOptions extends KeyInputOptions {
  key?: string;
  subtle?: boolean;
}

/** Five dot-separated base64url parts: a compact JWE given on the command line. */
const COMPACT_JWE = /^\s*[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}\s*$/;

/**
 * The JWE: standard input for "-", a file that exists, else the argument itself when it is a
 * compact JWE; at most MAX_JWE_LENGTH bytes.
 * @throws KeymintError ERR_IO, ERR_INPUT_INVALID (empty, too large), ERR_USAGE (standard input is a terminal)
 */
export async function readJweInput(arg: string): Promise<string> {
  const isFile =
    arg !== STDIN &&
    (await stat(arg).then(
      (s) => s.isFile(),
      () => false,
    ));
  if (arg !== STDIN && !isFile && COMPACT_JWE.test(arg)) return arg;
  const text = Buffer.from(await readPayload(arg, arg === STDIN ? 'JWE' : 'JWE file', MAX_JWE_LENGTH)).toString('utf8');
  if (text.trim().length === 0) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `no JWE: ${arg === STDIN ? 'standard input' : arg} is empty`);
  }
  return text;
}

/**
 * The private keys a key file holds for decryption: its one key in any form, or each private key
 * of a JWK Set (the JWE's kid chooses among them).
 * @throws KeymintError ERR_INPUT_INVALID for a set without private keys, and what opening a key throws
 */
export async function openDecryptionKeys(
  inputs: KeyInputs,
  path: string,
): Promise<{ keys: OpenedKey[]; source: string }> {
  const { doc, source } = await readKeyDocument(path);
  if (doc.kind !== 'jwks') return { keys: [await inputs.openDocument(doc, source)], source };
  const privates = doc.set.keys.filter(isPrivateJwk);
  if (privates.length === 0) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${source} is a JWK Set of public keys: decrypting needs the private key`,
    );
  }
  return { keys: await Promise.all(privates.map((jwk) => inputs.openDocument({ kind: 'jwk', jwk }, source))), source };
}

/**
 * `keymint decrypt [jwe|-] --key FILE`: the plaintext of a JWE, decrypted with the key (by the
 * backend that holds it: an HSM key decrypts inside the HSM), printed as it is.
 */
export async function decryptCommand(
  jweArg: string | undefined,
  options: DecryptCommandOptions,
): Promise<CommandResult> {
  const keyFile = requireKey(options, 'decrypt');
  const arg = jweArg ?? STDIN;
  assertOneStdin([
    [keyFile, '--key'],
    [arg, 'the JWE'],
  ]);
  const jwe = await readJweInput(arg);
  return withKeyInputs(options, async (inputs) => {
    const { keys, source } = await openDecryptionKeys(inputs, keyFile);
    const result = await decrypt(jwe, keys, {
      source,
      ...(options.subtle === undefined ? {} : { subtle: options.subtle }),
    });
    const kid = typeof result.key.jwk.kid === 'string' ? result.key.jwk.kid : null;
    let text: string | undefined;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(result.plaintext);
    } catch {
      text = undefined;
    }
    const b64 = Buffer.from(result.plaintext).toString('base64url');
    const plaintext = text === undefined ? { plaintextBase64url: b64 } : { plaintext: text };
    return {
      notes: [
        `Decrypted with ${kid === null ? `the key in ${source}` : `key "${kid}"`}: ${result.alg}, ${result.enc}.`,
      ],
      stdoutBytes: result.plaintext,
      json: { ...plaintext, alg: result.alg, enc: result.enc, kid, header: result.header },
    };
  });
}

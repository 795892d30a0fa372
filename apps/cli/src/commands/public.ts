import type { Jwk } from '@keymint/core';
import { runAction, type CommandResult } from '../output.js';
import { isKeySet, prettyJson, withKeyInputs, type KeyInputOptions } from '../key-input.js';
import type { Command } from 'commander';
import { PASSWORD_FILE_HELP } from '../command.js';

/** Adds `keymint public` to the program. */
export function register(program: Command): void {
  program
    .command('public')
    .description('print the public JWK of a key file (JWE, JWK, key reference or JWK Set)')
    .argument('[file]', 'the key file, or - for standard input', '-')
    .option('--subtle', 'for an oct key, print the secret key itself (it has no public part)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print JSON only; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint public key.json > key.pub.json          # the public JWK of a private key (any form)
  $ keymint public jwks-with-private-keys.json      # a set gives the set of public keys
  $ cat key.json | keymint public -`,
    )
    .action(async (file: string, options: PublicOptions) => {
      await runAction(options.json ?? false, () => publicCommand(file, options));
    });
}

export interface PublicOptions extends KeyInputOptions {
  subtle?: boolean;
}

/**
 * `keymint public [file|-]`: the public JWK of any key file (a set gives a set of public keys).
 * An oct key has no public part: only with --subtle, which prints the secret itself.
 */
export async function publicCommand(file: string, options: PublicOptions): Promise<CommandResult> {
  return withKeyInputs(options, async (inputs) => {
    const { value, source } = await inputs.publicForm(file, { allowSecret: options.subtle ?? false });
    const keys: Jwk[] = isKeySet(value) ? value.keys : [value];
    const notes = keys.some((k) => k.kty === 'oct')
      ? [`Note: ${source} holds an oct key: what is printed is the secret key itself, not a public key.`]
      : [];
    return { json: value, stdout: prettyJson(value), notes };
  });
}

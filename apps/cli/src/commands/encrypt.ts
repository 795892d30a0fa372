import { ErrorCode, KeymintError } from '@keymint/core';
import { encrypt } from '@keymint/core/jose';
import type { Command } from 'commander';
import { addBackendFlags } from '../backends.js';
import { PASSWORD_FILE_HELP, collect, type CommandContext } from '../command.js';
import { assertOneStdin, parseAssignments, readPayload, requireKey, STDIN, withKeyInputs } from '../key-input.js';
import type { KeyInputOptions } from '../key-input.js';
import { runAction, type CommandResult } from '../output.js';

/** Adds `keymint encrypt` to the program, with the backends' flags (a key reference names its public key). */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const command = program
    .command('encrypt')
    .description("encrypt a payload to a key into a compact JWE (the key's kid in the header)")
    .argument('[payload-file]', 'the payload, or - for standard input (the default)')
    .option(
      '--key <file>',
      'the key: a public JWK, a JWK Set (by --kid), any key file or reference (its public key), an oct key',
    )
    .option('--alg <alg>', "the key management algorithm (default: the key's alg, else by key type); must fit the key")
    .option(
      '--enc <enc>',
      'the content encryption: A128GCM, A192GCM, A256GCM (default), A128CBC-HS256, A192CBC-HS384, A256CBC-HS512',
    )
    .option('--kid <kid>', 'the key to use from a JWK Set; the kid in the header')
    .option('--header <name=value>', 'an extra protected header member, e.g. typ or cty (repeatable)', collect)
    .option('--subtle', 'allow RSA1_5 (open to padding-oracle attacks)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print the JWE in the flattened JSON serialization; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint encrypt --key recipient.pub.json message.txt > message.jwe
  $ echo -n secret | keymint encrypt --key jwks.json --kid enc-2 --enc A128CBC-HS256 -
  $ keymint encrypt --key x25519.pub.json --alg ECDH-ES+A256KW --json payload.bin > payload.jwe.json`,
    );
  addBackendFlags(command, await context.backends());
  command.action(async (payloadFile: string | undefined, options: EncryptCommandOptions) => {
    await runAction(options.json ?? false, () => encryptCommand(payloadFile, options));
  });
}

export interface EncryptCommandOptions extends KeyInputOptions {
  key?: string;
  alg?: string;
  enc?: string;
  kid?: string;
  header?: string[];
  subtle?: boolean;
}

/**
 * `keymint encrypt [payload-file|-] --key FILE`: a compact JWE of the payload (bytes as they are)
 * to the key's public part (an oct key's secret), made by core's `encrypt`.
 */
export async function encryptCommand(
  payloadFile: string | undefined,
  options: EncryptCommandOptions,
): Promise<CommandResult> {
  const keyFile = requireKey(options, 'encrypt');
  const payloadPath = payloadFile ?? STDIN;
  assertOneStdin([
    [keyFile, '--key'],
    [payloadPath, 'the payload'],
  ]);
  const header = parseAssignments(options.header, '--header');
  const payload = await readPayload(payloadPath);
  if (payloadFile === undefined && payload.length === 0) {
    const hint = 'give a payload file, or pipe the payload in';
    throw new KeymintError(ErrorCode.USAGE, 'no payload: standard input is empty', { hint });
  }
  return withKeyInputs(options, async (inputs) => {
    // An oct key has no public part: encrypting to it takes the secret itself.
    const { value, source } = await inputs.publicForm(keyFile, { allowSecret: true, what: 'key file' });
    const jwe = await encrypt(payload, value, {
      header,
      source,
      ...(options.alg === undefined ? {} : { alg: options.alg }),
      ...(options.enc === undefined ? {} : { enc: options.enc }),
      ...(options.kid === undefined ? {} : { kid: options.kid }),
      ...(options.subtle === undefined ? {} : { subtle: options.subtle }),
    });
    const to = jwe.kid === undefined ? `the key in ${source}` : `key "${jwe.kid}"`;
    return { notes: [`Encrypted to ${to}: ${jwe.alg}, ${jwe.enc}.`], stdout: jwe.compact, json: jwe.flattened };
  });
}

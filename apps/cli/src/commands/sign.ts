import { ErrorCode, KeymintError } from '@keymint/core';
import { decodeCompactJws, signCompact } from '@keymint/core/jose';
import { runAction, type CommandResult } from '../output.js';
import {
  assertOneStdin,
  parseAssignments,
  readPayload,
  requireKey,
  STDIN,
  withKeyInputs,
  type KeyInputOptions,
} from '../key-input.js';
import type { Command } from 'commander';
import { addBackendFlags } from '../backends.js';
import { PASSWORD_FILE_HELP, collect, type CommandContext } from '../command.js';

/** Adds `keymint sign` to the program, with the backends' flags (a key reference may need them). */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const command = program
    .command('sign')
    .description("sign a payload into a compact JWS (the key's kid in the header)")
    .argument('[payload-file]', 'the payload, or - for standard input (the default)')
    .option('--key <file>', 'the private key: encrypted JWK, plain JWK, or the reference to a key kept in a backend')
    .option('--alg <alg>', "the JWS algorithm (default: the key's alg); must fit the key")
    .option('--header <name=value>', 'an extra protected header member (repeatable)', collect)
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint sign --key key.json payload.json > payload.jws
  $ echo -n hello | keymint sign --key token-key.json --header typ=example -`,
    );
  addBackendFlags(command, await context.backends());
  command.action(async (payloadFile: string | undefined, options: SignOptions) => {
    await runAction(options.json ?? false, () => signCommand(payloadFile, options));
  });
}

export interface SignOptions extends KeyInputOptions {
  key?: string;
  alg?: string;
  header?: string[];
}

/**
 * `keymint sign [payload-file|-] --key FILE`: a compact JWS over the payload (bytes as they are),
 * with the key's kid in the header, signed by whichever backend holds the key.
 */
export async function signCommand(payloadFile: string | undefined, options: SignOptions): Promise<CommandResult> {
  const keyFile = requireKey(options, 'sign');
  const payloadPath = payloadFile ?? STDIN;
  assertOneStdin([
    [keyFile, '--key'],
    [payloadPath, 'the payload'],
  ]);
  const header = parseAssignments(options.header, '--header');
  // The payload first: a missing payload fails before a password or PIN is asked for.
  const payload = await readPayload(payloadPath);
  if (payloadFile === undefined && payload.length === 0) {
    throw new KeymintError(ErrorCode.USAGE, 'no payload: standard input is empty', {
      hint: 'give a payload file, or pipe the payload in',
    });
  }
  return withKeyInputs(options, async (inputs) => {
    const key = await inputs.openPrivate(keyFile);
    const jws = await signCompact(key, payload, { ...(options.alg === undefined ? {} : { alg: options.alg }), header });
    const protectedHeader = decodeCompactJws(jws).header;
    return {
      stdout: jws,
      json: { jws, alg: protectedHeader.alg, kid: protectedHeader.kid ?? null, header: protectedHeader },
    };
  });
}

import {
  ErrorCode,
  KeymintError,
  THUMBPRINT_HASHES,
  oneOf,
  thumbprint,
  thumbprintUri,
  type Jwk,
  type ThumbprintHash,
} from '@keymint/core';
import { runAction, terminalSafe, type CommandResult } from '../output.js';
import { isKeySet, withKeyInputs, type KeyInputOptions } from '../key-input.js';
import type { Command } from 'commander';
import { PASSWORD_FILE_HELP } from '../command.js';

/** Adds `keymint thumbprint` to the program. */
export function register(program: Command): void {
  program
    .command('thumbprint')
    .description('print the RFC 7638 thumbprint of a key (RFC 9278 URI with --uri)')
    .argument('[file]', 'the key file, or - for standard input', '-')
    .option('--hash <hash>', 'sha256, sha384 or sha512', 'sha256')
    .option('--uri', 'print the RFC 9278 thumbprint URI')
    .option('--subtle', 'allow the thumbprint of an oct key (a hash of the secret)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint thumbprint key.pub.json                 # RFC 7638, SHA-256, base64url
  $ keymint thumbprint --uri key.pub.json           # urn:ietf:params:oauth:jwk-thumbprint:sha-256:...
  $ keymint thumbprint --hash sha512 key.json`,
    )
    .action(async (file: string, options: ThumbprintOptions) => {
      await runAction(options.json ?? false, () => thumbprintCommand(file, options));
    });
}

export interface ThumbprintOptions extends KeyInputOptions {
  hash?: string;
  uri?: boolean;
  subtle?: boolean;
}

/**
 * `keymint thumbprint [file|-]`: the RFC 7638 thumbprint of a key (of each key of a set), or with
 * --uri its RFC 9278 URI. A thumbprint of an oct key is a hash of the secret: only with --subtle.
 */
export async function thumbprintCommand(file: string, options: ThumbprintOptions): Promise<CommandResult> {
  const hash = (options.hash ?? 'sha256') as ThumbprintHash;
  // Checked before any password is asked for.
  if (!THUMBPRINT_HASHES.includes(hash)) {
    throw new KeymintError(
      ErrorCode.PARAM_INVALID,
      `--hash "${hash}" is not supported: use ${oneOf(THUMBPRINT_HASHES)}`,
    );
  }
  return withKeyInputs(options, async (inputs) => {
    const { value, source } = await inputs.publicForm(file, { allowSecret: true });
    const keys: Jwk[] = isKeySet(value) ? value.keys : [value];
    if (!options.subtle && keys.some((k) => k.kty === 'oct')) {
      throw new KeymintError(
        ErrorCode.INPUT_INVALID,
        `${source} holds an oct key: its thumbprint is a hash of the secret, which keymint does not publish`,
        {
          hint: 'add --subtle if you mean it',
        },
      );
    }
    const results = [];
    for (const jwk of keys) {
      results.push({
        kid: typeof jwk.kid === 'string' ? jwk.kid : null,
        thumbprint: await thumbprint(jwk, hash),
        uri: await thumbprintUri(jwk, hash),
      });
    }
    const shown = results.map((r) => (options.uri ? r.uri : r.thumbprint));
    if (!isKeySet(value)) {
      const only = results[0] as (typeof results)[number];
      return { json: { hash, ...only }, stdout: shown[0] as string };
    }
    return {
      json: { hash, keys: results },
      ...(results.length === 0
        ? {}
        : { stdout: results.map((r, i) => `${shown[i] as string}\t${terminalSafe(r.kid ?? '-', true)}`).join('\n') }),
      notes: results.length === 0 ? [`${source} holds no keys.`] : [],
    };
  });
}

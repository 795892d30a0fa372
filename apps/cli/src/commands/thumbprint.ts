import { ErrorCode, KeymintError, THUMBPRINT_HASHES, oneOf, thumbprint, thumbprintUri, type Jwk, type ThumbprintHash } from '@keymint/core';
import { terminalSafe, type CommandResult } from '../output.js';
import { isKeySet, withKeyInputs, type KeyInputOptions } from '../key-input.js';

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
    throw new KeymintError(ErrorCode.PARAM_INVALID, `--hash "${hash}" is not supported: use ${oneOf(THUMBPRINT_HASHES)}`);
  }
  return withKeyInputs(options, async (inputs) => {
    const { value, source } = await inputs.publicForm(file, { allowSecret: true });
    const keys: Jwk[] = isKeySet(value) ? value.keys : [value];
    if (!options.subtle && keys.some((k) => k.kty === 'oct')) {
      throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} holds an oct key: its thumbprint is a hash of the secret, which keymint does not publish`, {
        hint: 'add --subtle if you mean it',
      });
    }
    const results = [];
    for (const jwk of keys) {
      results.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : null, thumbprint: await thumbprint(jwk, hash), uri: await thumbprintUri(jwk, hash) });
    }
    const shown = results.map((r) => (options.uri ? r.uri : r.thumbprint));
    if (!isKeySet(value)) {
      const only = results[0] as (typeof results)[number];
      return { json: { hash, ...only }, stdout: shown[0] as string };
    }
    return {
      json: { hash, keys: results },
      ...(results.length === 0 ? {} : { stdout: results.map((r, i) => `${shown[i] as string}\t${terminalSafe(r.kid ?? '-', true)}`).join('\n') }),
      notes: results.length === 0 ? [`${source} holds no keys.`] : [],
    };
  });
}

import type { Jwk } from '@keymint/core';
import type { CommandResult } from '../output.js';
import { isKeySet, prettyJson, withKeyInputs, type KeyInputOptions } from '../key-input.js';

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
    const notes = keys.some((k) => k.kty === 'oct') ? [`Note: ${source} holds an oct key: what is printed is the secret key itself, not a public key.`] : [];
    return { json: value, stdout: prettyJson(value), notes };
  });
}

import { ErrorCode, KeymintError, decodeCompactJws, signCompact } from '@keymint/core';
import type { CommandResult } from '../output.js';
import { STDIN, assertOneStdin, parseAssignments, readPayload, withKeyInputs, type KeyInputOptions } from '../key-input.js';

export interface SignOptions extends KeyInputOptions {
  key?: string;
  alg?: string;
  header?: string[];
}

/** --key is required by every signing command; commander cannot say so for `jwt` (see program.ts). */
export function requireKey(options: { key?: string }, command: string): string {
  if (options.key === undefined) throw new KeymintError(ErrorCode.USAGE, `${command} needs --key FILE: the private key to sign with`, { hint: `see keymint ${command} --help` });
  return options.key;
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
    throw new KeymintError(ErrorCode.USAGE, 'no payload: standard input is empty', { hint: 'give a payload file, or pipe the payload in' });
  }
  return withKeyInputs(options, async (inputs) => {
    const key = await inputs.openPrivate(keyFile);
    const jws = await signCompact(key, payload, { ...(options.alg === undefined ? {} : { alg: options.alg }), header });
    const protectedHeader = decodeCompactJws(jws).header;
    return { stdout: jws, json: { jws, alg: protectedHeader.alg, kid: protectedHeader.kid ?? null, header: protectedHeader } };
  });
}

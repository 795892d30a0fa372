import { ErrorCode, KeymintError, clientAssertionClaims, decodeCompactJws, jwtClaims, parseDuration, signJwt } from '@keymint/core';
import type { CommandResult } from '../output.js';
import { parseAssignments, withKeyInputs, type KeyInputOptions } from '../key-input.js';
import { requireKey } from './sign.js';

export interface JwtOptions extends KeyInputOptions {
  key?: string;
  alg?: string;
  iss?: string;
  sub?: string;
  aud?: string[];
  exp?: string;
  /** true for a bare --nbf (now), or a duration after now. */
  nbf?: string | boolean;
  jti?: string;
  claim?: string[];
  header?: string[];
}

export interface ClientAssertionOptions extends KeyInputOptions {
  key?: string;
  alg?: string;
  clientId?: string;
  tokenEndpoint?: string;
  exp?: string;
  jti?: string;
}

function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined) throw new KeymintError(ErrorCode.USAGE, `${command} needs ${flag}`, { hint: `see keymint ${command} --help` });
  return value;
}

async function sign(keyFile: string, claims: Record<string, unknown>, options: { alg?: string; header?: string[] } & KeyInputOptions): Promise<CommandResult> {
  const header = parseAssignments(options.header, '--header');
  return withKeyInputs(options, async (inputs) => {
    const key = await inputs.openPrivate(keyFile);
    const token = await signJwt(key, claims, { ...(options.alg === undefined ? {} : { alg: options.alg }), header });
    return { stdout: token, json: { jwt: token, header: decodeCompactJws(token).header, claims } };
  });
}

/** `keymint jwt --key FILE --iss --sub --aud ...`: a signed JWT (RFC 7519). */
export async function jwtCommand(options: JwtOptions): Promise<CommandResult> {
  const keyFile = requireKey(options, 'jwt');
  const iss = required(options.iss, '--iss', 'jwt');
  const sub = required(options.sub, '--sub', 'jwt');
  if (options.aud === undefined || options.aud.length === 0) required(undefined, '--aud', 'jwt');
  const claims = jwtClaims({
    iss,
    sub,
    aud: options.aud as string[],
    expiresIn: parseDuration(options.exp ?? '5m', '--exp'),
    ...(options.nbf === undefined ? {} : { notBefore: options.nbf === true ? true : parseDuration(String(options.nbf), '--nbf') }),
    jti: options.jti ?? 'auto',
    extra: parseAssignments(options.claim, '--claim'),
  });
  return sign(keyFile, claims, options);
}

/**
 * `keymint jwt client-assertion --key FILE --client-id ID --token-endpoint URL`: the JWT an OAuth
 * client sends as `client_assertion` (private_key_jwt, RFC 7523 §3 and §2.2).
 */
export async function clientAssertionCommand(options: ClientAssertionOptions): Promise<CommandResult> {
  const keyFile = requireKey(options, 'jwt client-assertion');
  const claims = clientAssertionClaims({
    clientId: required(options.clientId, '--client-id', 'jwt client-assertion'),
    tokenEndpoint: required(options.tokenEndpoint, '--token-endpoint', 'jwt client-assertion'),
    expiresIn: parseDuration(options.exp ?? '60s', '--exp'),
    ...(options.jti === undefined || options.jti === 'auto' ? {} : { jti: options.jti }),
  });
  return sign(keyFile, claims, options);
}

import { ErrorCode, KeymintError, isKeymintError } from '@keymint/core';
import {
  clientAssertionClaims,
  decodeCompactJws,
  encrypt,
  jwtClaims,
  parseDuration,
  signJwt,
} from '@keymint/core/jose';
import { flagOf, runAction, type CommandResult } from '../output.js';
import { parseAssignments, requireKey, withKeyInputs, type KeyInputOptions } from '../key-input.js';
import type { Command } from 'commander';
import { addBackendFlags } from '../backends.js';
import { PASSWORD_FILE_HELP, collect, type CommandContext } from '../command.js';

/** Adds `keymint jwt` and `keymint jwt client-assertion` to the program, with the backends' flags. */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const backends = await context.backends();
  // --key, --iss, --sub and --aud are required, but not with requiredOption: commander would then
  // demand them of `jwt client-assertion` too. The command checks them.
  const jwt = program
    .command('jwt')
    .description('sign a JWT (RFC 7519); `jwt client-assertion` makes an OAuth client assertion (RFC 7523)')
    .option('--key <file>', 'the private key: encrypted JWK, plain JWK, or the reference to a key kept in a backend')
    .option('--iss <iss>', 'issuer (required)')
    .option('--sub <sub>', 'subject (required)')
    .option('--aud <aud>', 'audience (required; repeat for several)', collect)
    .option('--exp <duration>', 'lifetime: seconds, or with s, m, h, d', '5m')
    .option('--nbf [duration]', 'add nbf: now, or this long after now')
    .option('--jti <jti>', 'the JWT ID; auto: a random UUID', 'auto')
    .option('--claim <name=value>', 'another claim (repeatable)', collect)
    .option('--header <name=value>', 'an extra protected header member (repeatable)', collect)
    .option('--alg <alg>', "the JWS algorithm (default: the key's alg); must fit the key")
    .option('--encrypt-to <file>', 'then encrypt the signed JWT to this key (a nested JWT, RFC 7519 §5.2)')
    .option('--encrypt-alg <alg>', "with --encrypt-to: the key management algorithm (default: the key's alg)")
    .option('--encrypt-enc <enc>', 'with --encrypt-to: the content encryption (default: A256GCM)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint jwt --key key.json --iss me --sub me --aud https://api.example.com --exp 10m
  $ keymint jwt --key key.json --iss me --sub me --aud api --encrypt-to api-enc.pub.json   # signed, then encrypted
  $ keymint jwt --key key.json --iss me --sub alice --aud api --claim scope="read write" --claim admin=false
  $ keymint jwt client-assertion --key key.json --client-id s6BhdRkqt3 --token-endpoint https://as.example.com/token

--claim and --header values that are valid JSON are taken as JSON (5, true, ["a","b"]); anything
else is a string (write '"5"' for the string 5).`,
    );
  addBackendFlags(jwt, backends);
  jwt.action(async (options: JwtOptions) => {
    await runAction(options.json ?? false, () => jwtCommand(options));
  });
  const assertion = jwt
    .command('client-assertion')
    .description(
      'sign an OAuth client assertion (private_key_jwt): iss = sub = client ID, aud = token endpoint, jti, iat, exp',
    )
    .option('--key <file>', 'the private key: encrypted JWK, plain JWK, or the reference to a key kept in a backend')
    .option('--client-id <id>', 'the OAuth client ID (required)')
    .option('--token-endpoint <url>', "the authorization server's token endpoint URL (required)")
    .option('--exp <duration>', 'lifetime: seconds, or with s, m, h, d', '60s')
    .option('--jti <jti>', 'the JWT ID; auto: a random UUID', 'auto')
    .option('--alg <alg>', "the JWS algorithm (default: the key's alg); must fit the key")
    .option('--insecure', 'allow an http token endpoint on a host other than localhost (a development server)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt');
  addBackendFlags(assertion, backends);
  assertion.action(async (own: Record<string, unknown>, command: Command) => {
    // A flag typed before the subcommand name (`jwt --key F client-assertion`) counts too, but not
    // jwt's defaults (its --exp is 5m, an assertion's 60s).
    const options: Record<string, unknown> = { ...own };
    for (const [name, value] of Object.entries(jwt.opts())) {
      if (jwt.getOptionValueSource(name) === 'cli' && command.getOptionValueSource(name) !== 'cli')
        options[name] = value;
    }
    await runAction(options.json === true, () => clientAssertionCommand(options as ClientAssertionOptions));
  });
}

export interface JwtOptions extends KeyInputOptions {
  key?: string;
  alg?: string;
  /** The key to encrypt the signed JWT to, making a nested JWT. */
  encryptTo?: string;
  encryptAlg?: string;
  encryptEnc?: string;
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
  insecure?: boolean;
  key?: string;
  alg?: string;
  clientId?: string;
  tokenEndpoint?: string;
  exp?: string;
  jti?: string;
}

/** Encryption's alg and enc are --encrypt-alg and --encrypt-enc here (--alg is the signature's). */
function asEncryptFlags(error: unknown): unknown {
  if (!isKeymintError(error) || typeof error.render !== 'function') return error;
  const names: Record<string, string> = { alg: '--encrypt-alg', enc: '--encrypt-enc' };
  const { message, hint } = error.render((p) => names[p] ?? flagOf(p));
  const extra = {
    ...(hint === undefined ? {} : { hint }),
    ...(error.param === undefined ? {} : { param: error.param }),
  };
  return new KeymintError(error.code, message, { cause: error, ...extra });
}

function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined)
    throw new KeymintError(ErrorCode.USAGE, `${command} needs ${flag}`, { hint: `see keymint ${command} --help` });
  return value;
}

type SignOptions = { alg?: string; header?: string[] } & Pick<JwtOptions, 'encryptTo' | 'encryptAlg' | 'encryptEnc'> &
  KeyInputOptions;

async function sign(keyFile: string, claims: Record<string, unknown>, options: SignOptions): Promise<CommandResult> {
  const header = parseAssignments(options.header, '--header');
  if (options.encryptTo === undefined && (options.encryptAlg !== undefined || options.encryptEnc !== undefined)) {
    const flag = options.encryptAlg === undefined ? '--encrypt-enc' : '--encrypt-alg';
    throw new KeymintError(ErrorCode.USAGE, `${flag} needs --encrypt-to`, { hint: 'see keymint jwt --help' });
  }
  return withKeyInputs(options, async (inputs) => {
    // The recipient's key first: a wrong --encrypt-to fails before a password or PIN is asked for the signing key.
    const target = options.encryptTo;
    const recipient =
      target === undefined ? undefined : await inputs.publicForm(target, { allowSecret: true, what: 'key file' });
    const key = await inputs.openPrivate(keyFile);
    const token = await signJwt(key, claims, { ...(options.alg === undefined ? {} : { alg: options.alg }), header });
    const signedHeader = decodeCompactJws(token).header;
    if (recipient === undefined) return { stdout: token, json: { jwt: token, header: signedHeader, claims } };
    // RFC 7519 §5.2: a JWT inside a JWE says so with cty JWT.
    const nested = await encrypt(token, recipient.value, {
      header: { cty: 'JWT' },
      source: recipient.source,
      ...(options.encryptAlg === undefined ? {} : { alg: options.encryptAlg }),
      ...(options.encryptEnc === undefined ? {} : { enc: options.encryptEnc }),
    }).catch((error: unknown) => {
      throw asEncryptFlags(error);
    });
    const to = nested.kid === undefined ? `the key in ${recipient.source}` : `key "${nested.kid}"`;
    return {
      notes: [`Signed (${String(signedHeader.alg)}), then encrypted to ${to} (${nested.alg}, ${nested.enc}).`],
      stdout: nested.compact,
      json: { jwt: nested.compact, header: nested.header, signedHeader, signed: token, claims },
    };
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
    ...(options.nbf === undefined
      ? {}
      : { notBefore: options.nbf === true ? true : parseDuration(String(options.nbf), '--nbf') }),
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
    insecure: options.insecure === true,
  });
  const result = await sign(keyFile, claims, options);
  if (options.insecure === true && new URL(claims.aud as string).protocol === 'http:') {
    // Warned on stderr also with --json: stdout stays the result.
    process.stderr.write(
      `keymint: warning: the token endpoint ${String(claims.aud)} is not https: the assertion travels in the clear and can be replayed until it expires\n`,
    );
  }
  return result;
}

import { promises as fsp } from 'node:fs';
import { ErrorCode, KeymintError } from '@keymint/core';
import { readInput } from '@keymint/core/files';
import {
  DEFAULT_LEEWAY,
  decrypt,
  formatNumericDate,
  numericDate,
  verifyToken,
  type DecryptedJwe,
} from '@keymint/core/jose';
import { runAction, type CommandResult } from '../output.js';
import {
  assertOneStdin,
  prettyJson,
  readPayload,
  requireKey,
  STDIN,
  withKeyInputs,
  type KeyInputOptions,
} from '../key-input.js';
import type { Command } from 'commander';
import { addBackendFlags } from '../backends.js';
import { PASSWORD_FILE_HELP, type CommandContext } from '../command.js';
import { openDecryptionKeys, readJweInput } from './decrypt.js';

/** Adds `keymint verify` to the program, with the backends' flags (a --decrypt-with key reference may need them). */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const command = program
    .command('verify')
    .description('verify a JWS or JWT with a public key, a key file or a JWK Set (by kid); print the payload or claims')
    .argument('[token]', 'the token itself, a file holding it, or - for standard input (the default)')
    .option('--key <file>', 'a public JWK, a private key file, or a JWK Set')
    .option('--leeway <seconds>', 'clock skew allowed for exp and nbf', '60')
    .option(
      '--decrypt-with <file>',
      'an encrypted (nested) JWT: decrypt it first with this private key, or a JWK Set by kid',
    )
    .option('--subtle', 'with --decrypt-with: allow RSA1_5')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint verify --key key.pub.json eyJhbGciOiJFUzI1NiIs...   # prints the payload or the JWT claims
  $ keymint verify --key jwks.json - < token.txt                 # the key is chosen by the token's kid
  $ keymint verify --key issuer-jwks.json --decrypt-with hsm-key.json id_token.jwe   # an encrypted ID token
Exit code 0: valid; 18: not valid (signature, alg, exp, nbf); 6: --decrypt-with cannot decrypt it.`,
    );
  addBackendFlags(command, await context.backends());
  command.action(async (token: string | undefined, options: VerifyOptions) => {
    await runAction(options.json ?? false, () => verifyCommand(token, options));
  });
}

export interface VerifyOptions extends KeyInputOptions {
  key?: string;
  leeway?: string;
  /** The private key to decrypt a nested JWT with. */
  decryptWith?: string;
  subtle?: boolean;
}

/** A nested JWT's JWS: the JWE's plaintext, which says it is a JWT (cty JWT, RFC 7519 §5.2) or is a compact JWS. */
function innerToken(result: DecryptedJwe): string {
  const cty = result.header.cty;
  if (cty !== undefined && (typeof cty !== 'string' || !/^(application\/)?jwt$/i.test(cty))) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the JWE holds ${JSON.stringify(cty)} content, not a signed JWT (cty JWT)`,
    );
  }
  const text = Buffer.from(result.plaintext).toString('utf8').trim();
  if (text.split('.').length !== 3) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      'the JWE decrypted, but what it holds is not a signed JWT (a compact JWS)',
    );
  }
  return text;
}

/** Dot-separated base64url parts: a compact JWS (three), or something the decoder will name (a JWE has five). */
const DOTTED = /^\s*[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){2,}\s*$/;

async function isFile(path: string): Promise<boolean> {
  return fsp.stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The token: standard input for "-", a file that exists, else the argument itself when it looks like a token. */
async function readToken(arg: string): Promise<string> {
  let text: string;
  if (arg === STDIN) text = Buffer.from(await readPayload(STDIN, 'token')).toString('utf8');
  else if (!(await isFile(arg)) && DOTTED.test(arg)) text = arg;
  else text = await readInput(arg, 'token file');
  text = text.trim();
  if (text.length === 0)
    throw new KeymintError(ErrorCode.INPUT_INVALID, `no token: ${arg === STDIN ? 'standard input' : arg} is empty`);
  return text;
}

function parseLeeway(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LEEWAY;
  if (!/^[0-9]{1,6}$/.test(text.trim()))
    throw new KeymintError(ErrorCode.PARAM_INVALID, `--leeway "${text}" is not a number of seconds`);
  return Number(text.trim());
}

/** What a valid JWT's exp means now: when it expires, or that it expired within the leeway. */
function expiryNote(exp: unknown, leeway: number): string {
  if (typeof exp !== 'number') return 'The JWT has no expiry ("exp").';
  const ago = numericDate() - exp;
  if (ago >= 0) return `The JWT expired ${ago} s ago, accepted within the ${leeway} s leeway.`;
  return `The JWT expires at ${formatNumericDate(exp)}.`;
}

/**
 * `keymint verify --key FILE [token|-]`: checks a compact JWS or JWT against a public key, a
 * private key file or a JWK Set (by kid) and prints the payload or the claims. An invalid token
 * is ERR_SIGNATURE_INVALID (exit 18).
 */
export async function verifyCommand(tokenArg: string | undefined, options: VerifyOptions): Promise<CommandResult> {
  const keyFile = requireKey(options, 'verify');
  const arg = tokenArg ?? STDIN;
  assertOneStdin([
    [keyFile, '--key'],
    [arg, 'the token'],
  ]);
  if (options.decryptWith !== undefined)
    assertOneStdin([
      [options.decryptWith, '--decrypt-with'],
      [arg, 'the token'],
      [keyFile, '--key'],
    ]);
  const leeway = parseLeeway(options.leeway);
  const token = options.decryptWith === undefined ? await readToken(arg) : await readJweInput(arg);
  if (options.decryptWith === undefined && token.split('.').length === 5) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      'the token is encrypted (a JWE with five parts): it must be decrypted before it is verified',
      {
        hint: 'give the private key it was encrypted to with --decrypt-with',
      },
    );
  }
  return withKeyInputs(options, async (inputs) => {
    const notes: string[] = [];
    let signed = token;
    let decrypted: { alg: string; enc: string; kid: string | null } | undefined;
    if (options.decryptWith !== undefined) {
      const { keys, source } = await openDecryptionKeys(inputs, options.decryptWith);
      const result = await decrypt(token, keys, {
        source,
        ...(options.subtle === undefined ? {} : { subtle: options.subtle }),
      });
      signed = innerToken(result);
      const by = typeof result.key.jwk.kid === 'string' ? result.key.jwk.kid : null;
      decrypted = { alg: result.alg, enc: result.enc, kid: by };
      notes.push(
        `Decrypted with ${by === null ? `the key in ${source}` : `key "${by}"`}: ${result.alg}, ${result.enc}.`,
      );
    }
    const { value, source } = await inputs.publicForm(keyFile, { allowSecret: true, what: 'key file' });
    const result = await verifyToken(signed, value, { leeway, source });
    const kid = typeof result.key.kid === 'string' ? result.key.kid : null;
    notes.push(`The signature is valid: ${result.alg}, ${kid === null ? `the key in ${source}` : `key "${kid}"`}.`);
    if (result.claims !== undefined) {
      notes.push(expiryNote(result.claims.exp, leeway));
      return {
        notes,
        stdout: prettyJson(result.claims),
        json: {
          valid: true,
          alg: result.alg,
          kid,
          header: result.header,
          claims: result.claims,
          ...(decrypted === undefined ? {} : { decrypted }),
        },
      };
    }
    let text: string | undefined;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(result.payload);
    } catch {
      text = undefined;
    }
    const b64 = Buffer.from(result.payload).toString('base64url');
    if (text === undefined) notes.push('The payload is not UTF-8 text: it is printed as base64url.');
    return {
      notes,
      stdout: text ?? b64,
      json: {
        valid: true,
        alg: result.alg,
        kid,
        header: result.header,
        ...(text === undefined ? { payloadBase64url: b64 } : { payload: text }),
        ...(decrypted === undefined ? {} : { decrypted }),
      },
    };
  });
}

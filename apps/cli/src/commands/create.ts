import type { Command } from 'commander';
import {
  DEFAULT_PBES2_COUNT,
  ErrorCode,
  KeymintError,
  SOFTWARE_BACKEND,
  checkPbes2Count,
  describeJwk,
  executeKeyPlan,
  planKey,
  thumbprintUri,
  type ExistingKey,
  type KeyBackend,
  type KeyParams,
} from '@keymint/core';
import { checkOutputs, readInput } from '@keymint/core/files';
import { addBackendFlags, assertInstalled, openBackend } from '../backends.js';
import type { CommandContext } from '../command.js';
import { runAction, type CommandResult } from '../output.js';
import { existingPassword, newPassword } from '../password.js';
import { confirmOverwrite } from '../prompt.js';

/** The options of `keymint create`, as commander parses them. */
export interface CreateOptions {
  type?: string;
  curve?: string;
  size?: string;
  algorithm?: string;
  use?: string;
  kid?: string;
  fromPem?: string;
  passwordFile?: string;
  /** false when --no-password is given. */
  password: boolean;
  insecure?: boolean;
  force?: boolean;
  subtle?: boolean;
  backend: string;
  pemPasswordFile?: string;
  pbes2Count?: string;
  jwks?: boolean;
  json?: boolean;
  [backendFlag: string]: unknown;
}

const EXAMPLES = `
Examples:
  Create an EC P-256 signing key (the default); the password is asked twice:
    $ keymint create key.pub.json key.json

  Create an RSA 3072 key for RS256, with the password in a file:
    $ keymint create --kty RSA --size 3072 --password-file pass.txt rsa.pub.json rsa.json

  Create an Ed25519 key with a chosen kid:
    $ keymint create --kty OKP --crv Ed25519 --kid my-key ed.pub.json ed.json

  Create an X25519 key for ECDH-ES encryption:
    $ keymint create --kty OKP --crv X25519 --use enc x.pub.json x.json

  Create a 256-bit HMAC key (oct keys have no public part: both files hold the secret):
    $ keymint create --kty oct --alg HS256 hmac.pub.json hmac.json

  Create an unencrypted private key (for tests only):
    $ keymint create --no-password --insecure test.pub.json test.json

  Turn an existing RSA PEM key into a JWK for an OAuth client (private_key_jwt):
    $ keymint create --from-pem private.key --use sig --alg RS256 --kid client-1 client.pub.json client.json

  From a public PEM or a certificate only the public file is written:
    $ keymint create --from-pem public.key --use sig --alg RS256 client.pub.json unused.json

  Write the public key as a JWK Set, ready for a JWKS endpoint:
    $ keymint create --jwks jwks.json key.json

  Print the result as JSON (never prompts):
    $ keymint create --json --password-file pass.txt key.pub.json key.json

Defaults: --kty EC, --crv P-256 (EC) or Ed25519 (OKP), --size 2048 (RSA) or from --alg (oct:
256 for HS256), --alg from kty/crv/use (oct with --size: the alg the size fits), --use sig, --kid
the RFC 7638 SHA-256 thumbprint (none for oct), --pbes2-count ${DEFAULT_PBES2_COUNT}.

--pbes2-count and other readers of the private file: panva jose needs
keyManagementAlgorithms: ['PBES2-HS256+A128KW'], and maxPBES2Count: 1000000 above 10000;
jwcrypto 1.5+ needs jwcrypto.jwa.default_max_pbkdf2_iterations raised above 16384 (1.1 has no
cap); go-jose and keymint open counts up to 1000000 as they are.
`;

/** Adds `keymint create` to the program, with the flags of every installed backend. */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const backends = await context.backends();
  const command = program
    .command('create')
    .description('create a JWK: write the public key and the (encrypted) private key')
    .argument('<public-jwk-file>', 'where to write the public JWK')
    // Optional for commander, so that one file gets keymint's own message (step's manual shows one-file examples).
    .argument('[private-jwk-file]', 'where to write the private JWK (encrypted unless --no-password --insecure)')
    .option('--kty, --type <kty>', 'key type: EC, OKP, RSA or oct')
    .option('--crv, --curve <crv>', 'curve: P-256, P-384, P-521, secp256k1 (EC); Ed25519, Ed448, X25519, X448 (OKP)')
    .option('--size <bits>', 'size in bits: RSA (min 2048) or oct (min 128)')
    .option(
      '--alg, --algorithm <alg>',
      'the algorithm the key is for (e.g. ES256, RS256, EdDSA, RSA-OAEP-256, A256GCMKW)',
    )
    .option('--use <use>', 'sig or enc (other values are kept as given)')
    .option('--kid <kid>', 'key ID (default: the RFC 7638 thumbprint)')
    .option('--from-pem <file>', 'make the JWK from an existing PEM key, public key or certificate')
    .option('--pem-password-file <file>', 'password of an encrypted --from-pem input')
    .option('--password-file <file>', 'file holding the password that encrypts the private JWK')
    .option('--no-password', 'write the private JWK unencrypted (needs --insecure)')
    .option(
      '--pbes2-count <n>',
      `PBES2 iterations of the password encryption (1000-1000000)`,
      String(DEFAULT_PBES2_COUNT),
    )
    .option('--insecure', 'allow sizes below the minimums and --no-password')
    .option('--subtle', 'allow RSA1_5 and certificates whose key usage is ambiguous')
    .option('-f, --force', 'overwrite existing files')
    .option(
      '--backend <name>',
      `where the key is made and kept: ${backends.map((b) => b.name).join(', ')}`,
      SOFTWARE_BACKEND,
    )
    .option('--jwks', 'write the public key as a JWK Set')
    .option('--json', 'print the result as one JSON object on stdout; never prompt')
    .addHelpText('after', EXAMPLES);
  addBackendFlags(command, backends);
  command.action(async (publicPath: string, privatePath: string | undefined, options: CreateOptions) => {
    await runAction(options.json ?? false, () => {
      if (privatePath === undefined) {
        throw usage(
          `keymint create needs two files, the public and the private one: ${publicPath} alone is one`,
          `e.g. keymint create ${publicPath.replace(/(\.json)?$/, '.pub.json')} ${publicPath}`,
        );
      }
      return createCommand(publicPath, privatePath, options);
    });
  });
}

function usage(message: string, hint?: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, message, hint === undefined ? {} : { hint });
}

/** Rules between flags of the command line itself; every rule about keys is core's (planKey). */
function checkFlags(options: CreateOptions): void {
  if (!options.password && options.passwordFile !== undefined)
    throw usage('--no-password and --password-file cannot be used together');
  if (options.pemPasswordFile !== undefined && options.fromPem === undefined)
    throw usage('--pem-password-file is only used with --from-pem');
  if (options.fromPem !== undefined && options.backend !== SOFTWARE_BACKEND) {
    throw usage(
      `--from-pem works with --backend ${SOFTWARE_BACKEND} only: the ${options.backend} backend makes its own keys`,
    );
  }
}

/** The key parameters as typed: strings, which core checks as strictly as typed values. */
function keyParams(options: CreateOptions): KeyParams {
  const params = {
    kty: options.type,
    crv: options.curve,
    size: options.size,
    alg: options.algorithm,
    use: options.use,
    kid: options.kid,
  };
  return { ...params, insecure: options.insecure ?? false, subtle: options.subtle ?? false } as KeyParams;
}

async function readPem(options: CreateOptions): Promise<ExistingKey> {
  const source = options.fromPem as string;
  const text = await readInput(source, '--from-pem');
  const { importPem } = await import('@keymint/core/pem');
  const imported = await importPem(text, {
    source,
    subtle: options.subtle ?? false,
    password: () =>
      existingPassword(source, {
        file: options.pemPasswordFile,
        noPrompt: options.json ?? false,
        flag: '--pem-password-file',
      }),
  });
  return { ...imported, source };
}

/**
 * `keymint create`: makes a key (or adopts one from a PEM file) and writes the public JWK and the
 * private file. Core plans the key (parameters, backend support, encryption, outputs) before a
 * password is asked for or anything is made.
 */
export async function createCommand(
  publicPath: string,
  privatePath: string,
  options: CreateOptions,
): Promise<CommandResult> {
  checkFlags(options);
  assertInstalled(options.backend);
  const pbes2Count = options.pbes2Count === undefined ? undefined : checkPbes2Count(options.pbes2Count);
  // As step does: on a terminal, existing files are replaced only after a yes; elsewhere, never without --force.
  let force = await confirmOverwrite(options.fromPem === undefined ? [publicPath, privatePath] : [publicPath], options);
  // What create reads must not be what it writes: with --force it would replace its own input.
  const inputs = [
    [options.fromPem, '--from-pem'],
    [options.pemPasswordFile, '--pem-password-file'],
    [options.passwordFile, '--password-file'],
  ] as const;
  let existing: ExistingKey | undefined;
  if (options.fromPem !== undefined) {
    // Before the PEM is read (it may ask for its password): two distinct files that can be
    // written, none of them an input, and a free public path. planKey checks the rest once the key is known.
    await checkOutputs([publicPath, privatePath], { force: true, inputs });
    await checkOutputs([publicPath], { force });
    existing = await readPem(options);
    if (existing.privateJwk !== undefined) force = (await confirmOverwrite([privatePath], options)) || force;
  }
  const backend: KeyBackend = await openBackend(options.backend, { options, noPrompt: options.json ?? false });
  try {
    const plan = await planKey(backend, keyParams(options), {
      outputs: { publicPath, privatePath, jwks: options.jwks ?? false, force, inputs },
      unencrypted: !options.password,
      ...(existing === undefined ? {} : { existing }),
    });
    const password = plan.needsPassword
      ? await newPassword(
          'the private JWK',
          { file: options.passwordFile, noPrompt: options.json ?? false, flag: '--password-file' },
          ', or --no-password --insecure',
        )
      : undefined;
    const { key, saved } = await executeKeyPlan(plan, { password, pbes2Count });
    const files = saved as NonNullable<typeof saved>;
    const notes =
      files.public !== undefined
        ? [`Your public key has been saved in ${files.public}.`]
        : [
            `An oct key has no public part and its secret stays in the ${backend.name} backend: ${publicPath} was not written.`,
          ];
    if (files.private !== undefined) {
      const form =
        files.privateForm === 'encrypted'
          ? 'encrypted'
          : files.privateForm === 'plain'
            ? 'NOT encrypted'
            : `a reference to the key in the ${backend.name} backend`;
      notes.push(`Your private key has been saved in ${files.private} (${form}).`);
    } else notes.push(`The PEM input holds only a public key: ${privatePath} was not written.`);
    if (files.publicHoldsSecret)
      notes.push(
        `Note: an oct key has no public part: ${files.public} holds the secret key and was written with mode 0600.`,
      );
    if (key.kid !== undefined) notes.push(`kid: ${key.kid}`);
    const describedJwk = key.publicJwk ?? (key.private?.kind === 'jwk' ? key.private.jwk : undefined);
    return {
      notes,
      json: {
        kid: key.kid ?? null,
        thumbprint: key.thumbprint ?? null,
        thumbprintUri: key.publicJwk === undefined ? null : await thumbprintUri(key.publicJwk),
        key: describedJwk === undefined ? null : describeJwk(describedJwk),
        kty: key.spec.kty,
        crv: key.spec.crv ?? null,
        size: key.spec.size ?? null,
        alg: key.spec.alg ?? null,
        use: key.spec.use,
        backend: backend.name,
        files: { public: files.public ?? null, private: files.private ?? null },
        privateKey: files.privateForm ?? null,
        publicHoldsSecret: files.publicHoldsSecret,
        publicJwk: key.publicJwk ?? null,
      },
    };
  } finally {
    await backend.close();
  }
}

import { Command, CommanderError } from 'commander';
import { DEFAULT_PBES2_COUNT, ErrorCode, KeymintError } from '@keymint/core';
import { BACKENDS, BACKEND_NAMES } from './backends/index.js';
import { reportError, runAction } from './output.js';

declare const KEYMINT_VERSION: string | undefined;

const CREATE_EXAMPLES = `
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

Defaults: --kty EC, --crv P-256 (EC) or Ed25519 (OKP), --size 2048 (RSA) or from --alg (oct,
else 128 bits), --use sig, --alg from kty/crv/use, --kid the RFC 7638 SHA-256 thumbprint
(none for oct), --pbes2-count ${DEFAULT_PBES2_COUNT}.
`;

function version(): string {
  return typeof KEYMINT_VERSION === 'string' ? KEYMINT_VERSION : '0.1.0';
}

/** Adds the flags of every backend (--pkcs11-uri ...) to a command that makes or uses keys. */
function addBackendFlags(command: Command): void {
  for (const backend of BACKENDS) {
    for (const flag of backend.flags) command.option(flag.flags, `[${backend.name}] ${flag.description}`, flag.defaultValue);
  }
}

/** Builds the keymint command line. Actions import their modules only when they run. */
export function buildProgram(): Command {
  const program = new Command('keymint')
    .description('Create JSON Web Keys (RFC 7517) and keep the private key where you decide.')
    .version(version(), '-v, --version', 'print the keymint version')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => undefined });

  const create = program
    .command('create')
    .description('create a JWK: write the public key and the (encrypted) private key')
    .argument('<public-jwk-file>', 'where to write the public JWK')
    .argument('<private-jwk-file>', 'where to write the private JWK (encrypted unless --no-password --insecure)')
    .option('--kty, --type <kty>', 'key type: EC, OKP, RSA or oct')
    .option('--crv, --curve <crv>', 'curve: P-256, P-384, P-521, secp256k1 (EC); Ed25519, Ed448, X25519, X448 (OKP)')
    .option('--size <bits>', 'size in bits: RSA (min 2048) or oct (min 128)')
    .option('--alg, --algorithm <alg>', 'the algorithm the key is for (e.g. ES256, RS256, EdDSA, RSA-OAEP-256, A256GCMKW)')
    .option('--use <use>', 'sig or enc (other values are kept as given)')
    .option('--kid <kid>', 'key ID (default: the RFC 7638 thumbprint)')
    .option('--from-pem <file>', 'make the JWK from an existing PEM key, public key or certificate')
    .option('--pem-password-file <file>', 'password of an encrypted --from-pem input')
    .option('--password-file <file>', 'file holding the password that encrypts the private JWK')
    .option('--no-password', 'write the private JWK unencrypted (needs --insecure)')
    .option('--pbes2-count <n>', `PBES2 iterations of the password encryption (1000-1000000)`, String(DEFAULT_PBES2_COUNT))
    .option('--insecure', 'allow sizes below the minimums and --no-password')
    .option('--subtle', 'allow RSA1_5 and certificates whose key usage is ambiguous')
    .option('-f, --force', 'overwrite existing files')
    .option('--backend <name>', `where the key is made and kept: ${BACKEND_NAMES.join(', ')}`, 'software')
    .option('--jwks', 'write the public key as a JWK Set')
    .option('--json', 'print the result as one JSON object on stdout; never prompt')
    .addHelpText('after', CREATE_EXAMPLES);
  addBackendFlags(create);
  create.action(async (publicPath: string, privatePath: string, options) => {
      await runAction(options.json ?? false, async () => {
        const { createCommand } = await import('./commands/create.js');
        return createCommand(publicPath, privatePath, options);
      });
    });

  return program;
}

const QUIET_EXITS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** Parses argv and runs the command; usage errors get exit code 2 and one line. */
export async function run(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (QUIET_EXITS.has(error.code)) {
        process.exitCode = 0;
        return;
      }
      const message = error.message.replace(/^error:\s*/, '');
      reportError(new KeymintError(ErrorCode.USAGE, message, { hint: 'see keymint --help' }), argv.includes('--json'));
      return;
    }
    reportError(error, argv.includes('--json'));
  }
}

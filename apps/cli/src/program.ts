import { Command, CommanderError } from 'commander';
import { ErrorCode, KeymintError } from '@keymint/core';
import { BACKENDS, BACKEND_NAMES } from './backends/index.js';
import { reportError, runAction } from './output.js';

declare const KEYMINT_VERSION: string | undefined;

/**
 * core's DEFAULT_PBES2_COUNT, for the help texts. Not imported: it sits beside the JWE code (and
 * jose), which `keymint --help` and unencrypted keys never need to load. build.mjs fails the
 * build if the two differ.
 */
const DEFAULT_PBES2_COUNT = 600_000;

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
    // Options belong to the command they follow: `jwt client-assertion --key F` gives --key to the subcommand.
    .enablePositionalOptions()
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

  addToolboxCommands(program);

  // keymint keychain keys|delete: the command module (and the native binding) load only when run.
  const keychain = program.command('keychain').description('list and delete the keys keymint keeps in the OS keychain');
  const keychainFlags = (command: Command) =>
    command
      .option('--keychain-service <name>', 'keychain service (default: keymint)')
      .option('--keychain-store <store>', 'Linux store: secret-service or keyutils (default: the Secret Service if one answers on the D-Bus session bus, else keyutils)')
      .option('--json', 'print the result as one JSON object on stdout; never prompt');
  keychainFlags(keychain.command('keys').description('list the keys keymint stored in the keychain: service, account, kid, key type')).action(async (options) => {
    await runAction(options.json ?? false, async () => (await import('./commands/keychain.js')).keychainKeysCommand(options));
  });
  keychainFlags(
    keychain
      .command('delete')
      .description('delete a key from the keychain, by its reference file (the private file) or its account; asks first on a terminal')
      .argument('<reference-file|account>', 'the private file written by create --backend keychain, or the keychain account')
      .option('-f, --force', 'delete without asking (needed when there is no terminal, and with --json)'),
  ).action(async (target: string, options) => {
    await runAction(options.json ?? false, async () => (await import('./commands/keychain.js')).keychainDeleteCommand(target, options));
  });

  // keymint pkcs11 tokens|keys: the command module (and graphene, when a module is opened) load only when run.
  const pkcs11 = program
    .command('pkcs11')
    .description('list the tokens of a PKCS#11 module (HSM, TPM) and the keys on a token')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint pkcs11 tokens --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
  $ keymint pkcs11 keys --pkcs11-uri 'pkcs11:token=demo?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:pin.txt'
  $ keymint create --backend pkcs11 --pkcs11-uri 'pkcs11:token=demo?module-path=/usr/lib/softhsm/libsofthsm2.so' key.pub.json key.json

The PIN: pin-source=file:PATH in the URI, else KEYMINT_PKCS11_PIN, else asked on the terminal.

The module: keymint loads one only if p11-kit registers it, it lies in a root-only system module
directory (/usr/lib/softhsm, /usr/lib/x86_64-linux-gnu/pkcs11 ...), or you name it: on the command
line (--pkcs11-uri, --pkcs11-module) for that run, or in KEYMINT_PKCS11_MODULES=/path/a.so:/path/b.so.
The module a key reference names is never trusted for being named there (exit 19).`,
    );
  pkcs11
    .command('tokens')
    .description("list a module's slots and tokens, with each token's URI and the keys keymint can make there (no PIN needed)")
    .option('--pkcs11-module <path>', 'the PKCS#11 module (default: module-path of --pkcs11-uri or KEYMINT_PKCS11_URI, else KEYMINT_PKCS11_MODULE)')
    .option('--pkcs11-uri <uri>', 'a PKCS#11 URI whose module-path names the module')
    .option('--json', 'print the result as one JSON object on stdout')
    .action(async (options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/pkcs11.js')).pkcs11TokensCommand(options));
    });
  pkcs11
    .command('keys')
    .description('list the keys on a token: label, key type, kid (RFC 7638 thumbprint), id and URI; logs in to see private keys')
    .option('--pkcs11-uri <uri>', "the token as an RFC 7512 URI, e.g. 'pkcs11:token=NAME?module-path=/usr/lib/softhsm/libsofthsm2.so' (else KEYMINT_PKCS11_URI)")
    .option('--json', 'print the result as one JSON object on stdout; never prompt (PIN from pin-source or KEYMINT_PKCS11_PIN)')
    .action(async (options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/pkcs11.js')).pkcs11KeysCommand(options));
    });

  return program;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const PASSWORD_FILE_HELP = 'file holding the password of an encrypted key (else KEYMINT_PASSWORD_FILE, else asked on the terminal)';

const TOOLBOX_EXAMPLES: Record<string, string> = {
  public: `
Examples:
  $ keymint public key.json > key.pub.json          # the public JWK of a private key (any form)
  $ keymint public jwks-with-private-keys.json      # a set gives the set of public keys
  $ cat key.json | keymint public -`,
  thumbprint: `
Examples:
  $ keymint thumbprint key.pub.json                 # RFC 7638, SHA-256, base64url
  $ keymint thumbprint --uri key.pub.json           # urn:ietf:params:oauth:jwk-thumbprint:sha-256:...
  $ keymint thumbprint --hash sha512 key.json`,
  keyset: `
Examples:
  $ keymint keyset add jwks.json key.json            # adds the PUBLIC key (creates jwks.json if needed)
  $ keymint keyset add --force jwks.json key.pub.json  # replaces the key with the same kid
  $ keymint keyset list jwks.json
  $ keymint keyset find jwks.json --kid client-1
  $ keymint keyset remove jwks.json --kid client-1`,
  sign: `
Examples:
  $ keymint sign --key key.json payload.json > payload.jws
  $ echo -n hello | keymint sign --key hsm-key.json --header typ=example -`,
  jwt: `
Examples:
  $ keymint jwt --key key.json --iss me --sub me --aud https://api.example.com --exp 10m
  $ keymint jwt --key key.json --iss me --sub alice --aud api --claim scope="read write" --claim admin=false
  $ keymint jwt client-assertion --key key.json --client-id s6BhdRkqt3 --token-endpoint https://as.example.com/token

--claim and --header values that are valid JSON are taken as JSON (5, true, ["a","b"]); anything
else is a string (write '"5"' for the string 5).`,
  verify: `
Examples:
  $ keymint verify --key key.pub.json eyJhbGciOiJFUzI1NiIs...   # prints the payload or the JWT claims
  $ keymint verify --key jwks.json - < token.txt                 # the key is chosen by the token's kid
Exit code 0: valid; 18: not valid (signature, alg, exp, nbf).`,
  pem: `
Examples:
  $ keymint pem --public key.json                                   # SPKI "PUBLIC KEY"
  $ keymint pem --out key.pem key.json                              # PKCS#8, mode 0600
  $ keymint pem --pem-password-file pw --out key.enc.pem key.json   # encrypted PKCS#8 (PBES2, AES-256-CBC)`,
};

/** public, thumbprint, keyset, sign, jwt, verify, pem: every action imports its module when it runs. */
function addToolboxCommands(program: Command): void {
  program
    .command('public')
    .description('print the public JWK of a key file (JWE, JWK, key reference or JWK Set)')
    .argument('[file]', 'the key file, or - for standard input', '-')
    .option('--subtle', 'for an oct key, print the secret key itself (it has no public part)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print JSON only; never prompt')
    .addHelpText('after', TOOLBOX_EXAMPLES.public as string)
    .action(async (file: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/public.js')).publicCommand(file, options));
    });

  program
    .command('thumbprint')
    .description('print the RFC 7638 thumbprint of a key (RFC 9278 URI with --uri)')
    .argument('[file]', 'the key file, or - for standard input', '-')
    .option('--hash <hash>', 'sha256, sha384 or sha512', 'sha256')
    .option('--uri', 'print the RFC 9278 thumbprint URI')
    .option('--subtle', 'allow the thumbprint of an oct key (a hash of the secret)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText('after', TOOLBOX_EXAMPLES.thumbprint as string)
    .action(async (file: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/thumbprint.js')).thumbprintCommand(file, options));
    });

  const keyset = program.command('keyset').description('add, remove, list and find keys in a JWK Set file').addHelpText('after', TOOLBOX_EXAMPLES.keyset as string);
  keyset
    .command('add')
    .description("add a key's PUBLIC form to a JWK Set file (created if missing); locked and written atomically")
    .argument('<jwks-file>', 'the JWK Set file')
    .argument('[key-file]', 'the key to add, or - for standard input', '-')
    .option('--private', 'add the private key as it is (never for a published set)')
    .option('-f, --force', 'replace a key with the same kid (or the same key under another kid)')
    .option('--kid <kid>', 'the kid of the added key (default: its own, else its RFC 7638 thumbprint)')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .action(async (file: string, keyFile: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/keyset.js')).keysetAddCommand(file, keyFile, options));
    });
  keyset
    .command('remove')
    .description('remove the key with a kid from a JWK Set file')
    .argument('<jwks-file>', 'the JWK Set file')
    .option('--kid <kid>', 'the kid of the key to remove')
    .option('--json', 'print one JSON object')
    .action(async (file: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/keyset.js')).keysetRemoveCommand(file, options));
    });
  keyset
    .command('list')
    .description('list the keys of a JWK Set: kid, kty, alg, use')
    .argument('<jwks-file>', 'the JWK Set file, or - for standard input')
    .option('--json', 'print one JSON object')
    .action(async (file: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/keyset.js')).keysetListCommand(file));
    });
  keyset
    .command('find')
    .description('print the key with a kid from a JWK Set')
    .argument('<jwks-file>', 'the JWK Set file, or - for standard input')
    .option('--kid <kid>', 'the kid of the key')
    .option('--json', 'print JSON only')
    .action(async (file: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/keyset.js')).keysetFindCommand(file, options));
    });

  const sign = program
    .command('sign')
    .description("sign a payload into a compact JWS (the key's kid in the header)")
    .argument('[payload-file]', 'the payload, or - for standard input (the default)')
    .option('--key <file>', 'the private key: encrypted JWK, plain JWK or key reference (HSM, keychain)')
    .option('--alg <alg>', "the JWS algorithm (default: the key's alg); must fit the key")
    .option('--header <name=value>', 'an extra protected header member (repeatable)', collect)
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText('after', TOOLBOX_EXAMPLES.sign as string);
  addBackendFlags(sign);
  sign.action(async (payloadFile: string | undefined, options) => {
    await runAction(options.json ?? false, async () => (await import('./commands/sign.js')).signCommand(payloadFile, options));
  });

  // --key, --iss, --sub and --aud are required, but not with requiredOption: commander would then
  // demand them of `jwt client-assertion` too. The command checks them.
  const jwt = program
    .command('jwt')
    .description('sign a JWT (RFC 7519); `jwt client-assertion` makes an OAuth client assertion (RFC 7523)')
    .option('--key <file>', 'the private key: encrypted JWK, plain JWK or key reference (HSM, keychain)')
    .option('--iss <iss>', 'issuer (required)')
    .option('--sub <sub>', 'subject (required)')
    .option('--aud <aud>', 'audience (required; repeat for several)', collect)
    .option('--exp <duration>', 'lifetime: seconds, or with s, m, h, d', '5m')
    .option('--nbf [duration]', 'add nbf: now, or this long after now')
    .option('--jti <jti>', 'the JWT ID; auto: a random UUID', 'auto')
    .option('--claim <name=value>', 'another claim (repeatable)', collect)
    .option('--header <name=value>', 'an extra protected header member (repeatable)', collect)
    .option('--alg <alg>', "the JWS algorithm (default: the key's alg); must fit the key")
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText('after', TOOLBOX_EXAMPLES.jwt as string);
  addBackendFlags(jwt);
  jwt.action(async (options) => {
    await runAction(options.json ?? false, async () => (await import('./commands/jwt.js')).jwtCommand(options));
  });
  const assertion = jwt
    .command('client-assertion')
    .description('sign an OAuth client assertion (private_key_jwt): iss = sub = client ID, aud = token endpoint, jti, iat, exp')
    .option('--key <file>', 'the private key: encrypted JWK, plain JWK or key reference (HSM, keychain)')
    .option('--client-id <id>', 'the OAuth client ID (required)')
    .option('--token-endpoint <url>', "the authorization server's token endpoint URL (required)")
    .option('--exp <duration>', 'lifetime: seconds, or with s, m, h, d', '60s')
    .option('--jti <jti>', 'the JWT ID; auto: a random UUID', 'auto')
    .option('--alg <alg>', "the JWS algorithm (default: the key's alg); must fit the key")
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt');
  addBackendFlags(assertion);
  assertion.action(async (own: Record<string, unknown>, command: Command) => {
    // A flag typed before the subcommand name (`jwt --key F client-assertion`) counts too, but not
    // jwt's defaults (its --exp is 5m, an assertion's 60s).
    const options = { ...own };
    for (const [name, value] of Object.entries(jwt.opts())) {
      if (jwt.getOptionValueSource(name) === 'cli' && command.getOptionValueSource(name) !== 'cli') options[name] = value;
    }
    await runAction(options.json === true, async () => (await import('./commands/jwt.js')).clientAssertionCommand(options));
  });

  program
    .command('verify')
    .description('verify a JWS or JWT with a public key, a key file or a JWK Set (by kid); print the payload or claims')
    .argument('[token]', 'the token itself, a file holding it, or - for standard input (the default)')
    .option('--key <file>', 'a public JWK, a private key file, or a JWK Set')
    .option('--leeway <seconds>', 'clock skew allowed for exp and nbf', '60')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText('after', TOOLBOX_EXAMPLES.verify as string)
    .action(async (token: string | undefined, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/verify.js')).verifyCommand(token, options));
    });

  program
    .command('pem')
    .description('write a key as PEM: SPKI public key, PKCS#8 private key, or encrypted PKCS#8')
    .argument('<key-file>', 'the key file, or - for standard input')
    .option('--public', 'the public key (SPKI), also for a private key or a key reference')
    .option('--out <file>', 'write to this file (private: mode 0600) instead of standard output')
    .option('--pem-password-file <file>', 'encrypt the private key under the password in this file (PBES2, AES-256-CBC)')
    .option('-f, --force', 'replace the --out file')
    .option('--password-file <file>', PASSWORD_FILE_HELP)
    .option('--json', 'print one JSON object; never prompt')
    .addHelpText('after', TOOLBOX_EXAMPLES.pem as string)
    .action(async (file: string, options) => {
      await runAction(options.json ?? false, async () => (await import('./commands/pem.js')).pemCommand(file, options));
    });
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

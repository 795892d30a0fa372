import { Command, CommanderError } from 'commander';
import { ErrorCode, KeymintError } from '@keymint/core';
import { allManifests, installedBackends, manifestOf, manifestsFor } from './backends.js';
import type { CommandContext, CommandModule } from './command.js';
import { reportError } from './output.js';

declare const KEYMINT_VERSION: string | undefined;

/**
 * The commands, each in its own file: its flags, help, option types and action. A run registers
 * only the command it runs; `--help` and a name keymint does not know register them all.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  create: () => import('./commands/create.js'),
  public: () => import('./commands/public.js'),
  thumbprint: () => import('./commands/thumbprint.js'),
  keyset: () => import('./commands/keyset.js'),
  sign: () => import('./commands/sign.js'),
  jwt: () => import('./commands/jwt.js'),
  verify: () => import('./commands/verify.js'),
  encrypt: () => import('./commands/encrypt.js'),
  decrypt: () => import('./commands/decrypt.js'),
  pem: () => import('./commands/pem.js'),
  keys: () => import('./commands/keys.js'),
};

function version(): string {
  return typeof KEYMINT_VERSION === 'string' ? KEYMINT_VERSION : '0.1.0';
}

/** The name of the command a command line runs: its first word that is not an option. */
function commandName(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/**
 * Builds the keymint command line for `argv`: the root, and the command it runs (or, for help or
 * an unknown name, every command, and every backend's old command names as hidden aliases).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('keymint')
    .description('Create JSON Web Keys (RFC 7517) and keep the private key where you decide.')
    .version(version(), '-v, --version', 'print the keymint version')
    .showHelpAfterError(false)
    .exitOverride()
    // Options belong to the command they follow: `jwt client-assertion --key F` gives --key to the subcommand.
    .enablePositionalOptions()
    .configureOutput({ outputError: () => undefined });
  const name = commandName(argv);
  const args = argv.slice(2);
  // A command that runs needs the manifests of the backends it names; its help, every one; the
  // root's help lists commands only, and reads none.
  const help = args.includes('-h') || args.includes('--help') || name === 'help';
  const backends =
    help && name === undefined ? async () => [] : help || name === 'keys' ? allManifests : () => manifestsFor(args);
  const context: CommandContext = { backends };
  // `keymint --version` needs no command.
  if (name === undefined && !help && (args.includes('-v') || args.includes('--version'))) return program;
  const load = name === undefined ? undefined : COMMANDS[name];
  if (load !== undefined) {
    await (await load()).register(program, context);
    return program;
  }
  const keys =
    name !== undefined && installedBackends().some((b) => b.name === name)
      ? await import('./commands/keys.js')
      : undefined;
  if (keys !== undefined && name !== undefined) {
    // `keymint pkcs11 tokens` and the like: a backend's old commands, kept for one release.
    await keys.registerAliases(program, await manifestOf(name).catch(() => undefined));
    if (program.commands.length > 0) return program;
  }
  for (const module of await Promise.all(Object.values(COMMANDS).map((l) => l())))
    await module.register(program, context);
  return program;
}

const QUIET_EXITS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** The help of the command a command line names (`keymint keyset add --help`), for a usage error. */
function helpFor(program: Command | undefined, argv: readonly string[]): string {
  const words: string[] = [];
  let command = program;
  for (const arg of argv.slice(2)) {
    const sub = command?.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) break;
    words.push(arg);
    command = sub;
  }
  return `see keymint ${words.map((w) => `${w} `).join('')}--help`;
}

/** Parses argv and runs the command; usage errors get exit code 2 and one line. */
export async function run(argv: readonly string[]): Promise<void> {
  let program: Command | undefined;
  try {
    program = await buildProgram(argv);
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (QUIET_EXITS.has(error.code)) {
        process.exitCode = 0;
        return;
      }
      const message = error.message.replace(/^error:\s*/, '');
      reportError(
        new KeymintError(ErrorCode.USAGE, message, { hint: helpFor(program, argv) }),
        argv.includes('--json'),
      );
      return;
    }
    reportError(error, argv.includes('--json'));
  }
}

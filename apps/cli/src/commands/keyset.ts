import { ErrorCode, KeymintError, publicOf, type Jwk, type JwkSet } from '@keymint/core';
import {
  addToKeySet,
  findInKeySet,
  parseKeySet,
  removeFromKeySet,
  updateKeySetFile,
  type KeySetChange,
} from '@keymint/core/keysets';
import { runAction, table, type CommandResult } from '../output.js';
import {
  STDIN,
  isKeySet,
  prettyJson,
  readKeyDocument,
  readTextInput,
  withKeyInputs,
  type KeyInputOptions,
} from '../key-input.js';
import type { Command } from 'commander';
import { PASSWORD_FILE_HELP } from '../command.js';

/** Adds `keymint keyset add|remove|list|find` to the program. */
export function register(program: Command): void {
  const keyset = program
    .command('keyset')
    .description('add, remove, list and find keys in a JWK Set file')
    .addHelpText(
      'after',
      `
Examples:
  $ keymint keyset add jwks.json key.json            # adds the PUBLIC key (creates jwks.json if needed)
  $ keymint keyset add --force jwks.json key.pub.json  # replaces the key with the same kid
  $ keymint keyset list jwks.json
  $ keymint keyset find jwks.json --kid client-1
  $ keymint keyset remove jwks.json --kid client-1`,
    );
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
    .action(async (file: string, keyFile: string, options: KeysetAddOptions) => {
      await runAction(options.json ?? false, () => keysetAddCommand(file, keyFile, options));
    });
  keyset
    .command('remove')
    .description('remove the key with a kid from a JWK Set file')
    .argument('<jwks-file>', 'the JWK Set file')
    .option('--kid <kid>', 'the kid of the key to remove')
    .option('--json', 'print one JSON object')
    .action(async (file: string, options: KeysetKidOptions) => {
      await runAction(options.json ?? false, () => keysetRemoveCommand(file, options));
    });
  keyset
    .command('list')
    .description('list the keys of a JWK Set: kid, kty, alg, use')
    .argument('<jwks-file>', 'the JWK Set file, or - for standard input')
    .option('--json', 'print one JSON object')
    .action(async (file: string, options: { json?: boolean }) => {
      await runAction(options.json ?? false, () => keysetListCommand(file));
    });
  keyset
    .command('find')
    .description('print the key with a kid from a JWK Set')
    .argument('<jwks-file>', 'the JWK Set file, or - for standard input')
    .option('--kid <kid>', 'the kid of the key')
    .option('--json', 'print JSON only')
    .action(async (file: string, options: KeysetKidOptions) => {
      await runAction(options.json ?? false, () => keysetFindCommand(file, options));
    });
}

export interface KeysetAddOptions extends KeyInputOptions {
  private?: boolean;
  force?: boolean;
  kid?: string;
}

export interface KeysetKidOptions {
  kid?: string;
  json?: boolean;
}

function usage(message: string): KeymintError {
  return new KeymintError(ErrorCode.USAGE, message, { hint: 'see keymint keyset --help' });
}

function writable(file: string): void {
  if (file === STDIN) throw usage('the JWK Set to change must be a file, not standard input');
}

function requireKid(options: KeysetKidOptions, verb: string): string {
  if (options.kid === undefined) throw usage(`keyset ${verb} needs --kid: the kid of the key`);
  if (options.kid.length === 0) throw new KeymintError(ErrorCode.PARAM_INVALID, '--kid must not be empty');
  return options.kid;
}

const kids = (keys: readonly Jwk[]) => keys.map((k) => (typeof k.kid === 'string' ? k.kid : null));
const plural = (n: number) => `${n} key${n === 1 ? '' : 's'}`;

async function readSet(file: string): Promise<{ set: JwkSet; source: string }> {
  const source = file === STDIN ? 'the JWK Set on standard input' : file;
  return { set: parseKeySet(await readTextInput(file, 'JWK Set'), source), source };
}

/** The keys a key file adds to a set: their public forms, or as they are with --private. */
async function keysToAdd(keyFile: string, options: KeysetAddOptions): Promise<Jwk[]> {
  return withKeyInputs(options, async (inputs) => {
    const { doc, source } = await readKeyDocument(keyFile);
    let keys: Jwk[];
    if (options.private) {
      if (doc.kind === 'reference') {
        throw new KeymintError(
          ErrorCode.ALG_NOT_SUPPORTED,
          `${source} is a reference to a key in the ${doc.reference.backend} backend: its private key cannot leave the backend`,
          {
            hint: 'leave out --private to add its public key',
          },
        );
      }
      if (doc.kind === 'jwks') keys = doc.set.keys;
      else {
        const opened = await inputs.openDocument(doc, source);
        keys = opened.private.kind === 'jwk' ? [opened.private.jwk] : [opened.jwk];
      }
    } else {
      const value = await publicOf(doc, { source, password: inputs.password(source), allowSecret: true });
      keys = isKeySet(value) ? value.keys : [value];
      if (keys.some((k) => k.kty === 'oct')) {
        throw new KeymintError(
          ErrorCode.INPUT_INVALID,
          `${source} holds an oct key, which has no public part: it does not belong in a published JWK Set`,
          {
            hint: 'add it with --private, to a set you keep secret',
          },
        );
      }
    }
    if (keys.length === 0) throw new KeymintError(ErrorCode.INPUT_INVALID, `${source} holds no keys`);
    if (options.kid !== undefined) {
      if (options.kid.length === 0) throw new KeymintError(ErrorCode.PARAM_INVALID, '--kid must not be empty');
      if (keys.length !== 1) throw usage(`--kid names one key, but ${source} holds ${keys.length}`);
      keys = [{ ...(keys[0] as Jwk), kid: options.kid }];
    }
    return keys;
  });
}

/**
 * `keymint keyset add <jwks-file> [key-file|-]`: adds a key's public form (its private form with
 * --private) to a JWK Set file, creating it if needed. The key is read (and decrypted) first; then
 * the set is changed under its lock and written atomically.
 */
export async function keysetAddCommand(
  file: string,
  keyFile: string,
  options: KeysetAddOptions,
): Promise<CommandResult> {
  writable(file);
  const keys = await keysToAdd(keyFile, options);
  const change = await updateKeySetFile(file, (set) => addToKeySet(set, keys, { force: options.force ?? false }), {
    create: true,
  });
  const notes = change.added.map(
    (k, i) =>
      `Added key "${String(k.kid)}" to ${file}${keys[i]?.kid === undefined ? ' (it had no kid: its kid is now its RFC 7638 thumbprint)' : ''}.`,
  );
  if (change.removed.length > 0) notes.push(`Replaced ${change.removed.map((k) => `"${String(k.kid)}"`).join(', ')}.`);
  if (options.private) notes.push(`Note: ${file} holds private keys: it was written with mode 0600; never publish it.`);
  notes.push(`${file} now holds ${plural(change.set.keys.length)}.`);
  return { notes, json: summary(file, change) };
}

function summary(file: string, change: KeySetChange): Record<string, unknown> {
  return { file, added: kids(change.added), removed: kids(change.removed), keys: change.set.keys.length };
}

/** `keymint keyset remove <jwks-file> --kid KID`: takes the key with that kid out of the set. */
export async function keysetRemoveCommand(file: string, options: KeysetKidOptions): Promise<CommandResult> {
  writable(file);
  const kid = requireKid(options, 'remove');
  const change = await updateKeySetFile(file, (set) => removeFromKeySet(set, kid, file));
  return {
    notes: [`Removed key "${kid}" from ${file}; it now holds ${plural(change.set.keys.length)}.`],
    json: summary(file, change),
  };
}

/** `keymint keyset list <jwks-file|->`: kid, kty, alg and use of each key. */
export async function keysetListCommand(file: string): Promise<CommandResult> {
  const { set, source } = await readSet(file);
  const rows = set.keys.map((k) => ({
    kid: typeof k.kid === 'string' ? k.kid : null,
    kty: k.kty,
    alg: typeof k.alg === 'string' ? k.alg : null,
    use: typeof k.use === 'string' ? k.use : null,
  }));
  if (rows.length === 0) return { json: { keys: [] }, notes: [`${source} holds no keys.`] };
  const lines = table([
    ['KID', 'KTY', 'ALG', 'USE'],
    ...rows.map((r) => [r.kid ?? '-', r.kty, r.alg ?? '-', r.use ?? '-']),
  ]);
  return { json: { keys: rows }, stdout: lines.join('\n') };
}

/** `keymint keyset find <jwks-file|-> --kid KID`: the key with that kid, as JSON. */
export async function keysetFindCommand(file: string, options: KeysetKidOptions): Promise<CommandResult> {
  const kid = requireKid(options, 'find');
  const { set, source } = await readSet(file);
  const found = findInKeySet(set, kid, source);
  const value = found.length === 1 ? (found[0] as Jwk) : { keys: found };
  const notes =
    found.length === 1
      ? []
      : [`Note: ${source} has ${found.length} keys with kid "${kid}": all are printed, as a JWK Set.`];
  return { json: value, stdout: prettyJson(value), notes };
}

import { statSync } from 'node:fs';
import type { Command } from 'commander';
import {
  ErrorCode,
  KeymintError,
  oneOf,
  parseKeyDocument,
  type BackendManifest,
  type BackendOperation,
  type KeyBackend,
  type KeyReference,
  type StoredKey,
} from '@keymint/core';
import { readInput } from '@keymint/core/files';
import { addBackendFlags, assertInstalled, openBackend } from '../backends.js';
import type { CommandContext } from '../command.js';
import { runAction, table, type CommandResult } from '../output.js';
import { askYesNo } from '../prompt.js';

/** The options of `keymint keys list|delete|describe`: the backend, its flags, and the command's own. */
export interface KeysOptions {
  backend?: string;
  force?: boolean;
  json?: boolean;
  [backendFlag: string]: unknown;
}

/** The operations, as the help says them; each backend's manifest adds its own examples. */
const OPERATIONS: Record<BackendOperation, { description: string; examples: string }> = {
  list: {
    description: 'list the keys a backend holds: kid, key type, alg, use and the id delete takes',
    examples: '  $ keymint keys list --backend NAME [its flags]',
  },
  delete: {
    description:
      'delete a key from its backend, by its reference file (the private file) or the id keys list shows; asks first on a terminal',
    examples: '  $ keymint keys delete --backend NAME key.json\n  $ keymint keys delete --backend NAME --force ID',
  },
  describe: {
    description: 'say what a backend is connected to (its store, its devices)',
    examples: '  $ keymint keys describe --backend NAME [its flags]',
  },
};

/** Adds `keymint keys list|delete|describe --backend NAME`, with the flags of every backend that offers each. */
export async function register(program: Command, context: CommandContext): Promise<void> {
  const backends = await context.backends();
  const keys = program
    .command('keys')
    .description('list, delete and describe the keys kept in a backend that offers it');
  for (const operation of Object.keys(OPERATIONS) as BackendOperation[]) {
    addOperation(
      keys,
      operation,
      operation,
      backends.filter((b) => b.operations.includes(operation)),
    );
  }
}

/**
 * A backend's old command names (`keymint <backend> <command>`, as its manifest lists them), kept for one
 * release as hidden aliases of `keymint keys <operation> --backend <name>`.
 */
export function registerAliases(program: Command, manifest: BackendManifest | undefined): void {
  const aliases = Object.entries(manifest?.aliases ?? {});
  if (manifest === undefined || aliases.length === 0) return;
  const group = program
    .command(manifest.name, { hidden: true })
    .description(`old names of the keymint keys commands for the ${manifest.name} backend, kept for one release`);
  if (manifest.help !== undefined) group.addHelpText('after', `\n${manifest.help}`);
  for (const [alias, operation] of aliases) addOperation(group, alias, operation, [manifest], manifest.name);
}

function addOperation(
  parent: Command,
  name: string,
  operation: BackendOperation,
  backends: readonly BackendManifest[],
  fixed?: string,
): void {
  const { description, examples } = OPERATIONS[operation];
  const command = parent
    .command(name)
    .description(fixed === undefined ? description : `${description} (keymint keys ${operation} --backend ${fixed})`);
  if (fixed === undefined) command.option('--backend <name>', `the backend: ${oneOf(backends.map((b) => b.name))}`);
  if (operation === 'delete') {
    command.argument('<reference-file|id>', 'the private file written by create, or the id keys list shows');
    command.option('-f, --force', 'delete without asking (needed when there is no terminal, and with --json)');
  }
  command.option('--json', 'print the result as one JSON object on stdout; never prompt');
  addBackendFlags(command, backends);
  const help = backends.flatMap((b) => (b.help === undefined ? [] : [b.help]));
  command.addHelpText('after', `\nExamples:\n${examples}${help.length === 0 ? '' : `\n\n${help.join('\n\n')}`}`);
  command.action(async (...args: unknown[]) => {
    const options = (operation === 'delete' ? args[1] : args[0]) as KeysOptions;
    const backend = fixed ?? options.backend;
    await runAction(options.json ?? false, () =>
      runOperation(operation, backend, options, operation === 'delete' ? (args[0] as string) : undefined),
    );
  });
}

async function runOperation(
  operation: BackendOperation,
  name: string | undefined,
  options: KeysOptions,
  target: string | undefined,
): Promise<CommandResult> {
  if (name === undefined)
    throw new KeymintError(ErrorCode.USAGE, `keymint keys ${operation} needs --backend NAME`, {
      hint: `see keymint keys ${operation} --help`,
    });
  assertInstalled(name);
  const backend = await openBackend(name, { options, noPrompt: options.json ?? false });
  try {
    if (!backend.capabilities.operations?.includes(operation)) {
      throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, `the ${name} backend does not ${operation} keys`, {
        hint: 'its keys are files: look at them directly',
      });
    }
    if (operation === 'list') return await listKeys(backend);
    if (operation === 'describe') return await describeBackend(backend);
    return await deleteKey(backend, target as string, options);
  } finally {
    await backend.close();
  }
}

/** "EC P-256", "RSA 2048", "oct 256", or the status of a key that is not there or not a key. */
function describeKey(key: StoredKey): string {
  if (key.status === 'missing') return '(missing)';
  if (key.status === 'invalid') return '(not a key keymint uses)';
  return [key.kty, key.crv ?? (key.size === null ? null : String(key.size))].filter((p) => p !== null).join(' ');
}

const plural = (n: number) => `${n} key${n === 1 ? '' : 's'}`;

async function listKeys(backend: KeyBackend): Promise<CommandResult> {
  const listing = await (backend.list as NonNullable<KeyBackend['list']>)();
  const count = listing.keys.length;
  const notes = [
    ...listing.warnings.map((w) => `Warning: ${w}`),
    count === 0 ? `No keys ${listing.where}.` : `${plural(count)} ${listing.where}.`,
  ];
  const rows = [
    ['KID', 'KEY', 'ALG', 'USE', 'ID'],
    ...listing.keys.map((k) => [k.kid ?? '-', describeKey(k), k.alg ?? '-', k.use ?? '-', k.id]),
  ];
  return {
    notes,
    ...(count === 0 ? {} : { stdout: table(rows).join('\n') }),
    json: {
      backend: backend.name,
      where: listing.where,
      ...listing.details,
      keys: listing.keys,
      warnings: listing.warnings,
    },
  };
}

async function describeBackend(backend: KeyBackend): Promise<CommandResult> {
  const description = await (backend.describe as NonNullable<KeyBackend['describe']>)();
  return {
    notes: [description.summary],
    ...(description.lines.length === 0 ? {} : { stdout: description.lines.join('\n') }),
    json: { backend: backend.name, ...description.details },
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** What delete is about: a reference file (its reference), else an id of the backend's own. */
async function deleteTarget(
  target: string,
  backend: KeyBackend,
): Promise<{ target: KeyReference | string; file: string | undefined }> {
  if (!isFile(target)) return { target, file: undefined };
  const doc = parseKeyDocument(await readInput(target, 'reference file'), target);
  if (doc.kind !== 'reference') {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${target} is not a key reference: keymint keys delete takes the private file of a key kept in a backend, or the id keys list shows`,
    );
  }
  if (doc.reference.backend !== backend.name) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `${target} refers to a key in the ${doc.reference.backend} backend, not in the ${backend.name} backend`,
      {
        hint: `use --backend ${doc.reference.backend}`,
      },
    );
  }
  return { target: doc.reference, file: target };
}

async function deleteKey(backend: KeyBackend, targetArg: string, options: KeysOptions): Promise<CommandResult> {
  const { target, file } = await deleteTarget(targetArg, backend);
  const title = (key: StoredKey) => `the ${describeKey(key)} key ${key.kid ?? key.id} (${key.name})`;
  const result = await (backend.delete as NonNullable<KeyBackend['delete']>)(target, {
    confirm: async (key) => {
      if (options.force) return true;
      const noForce = () =>
        new KeymintError(
          ErrorCode.USAGE,
          `deleting ${title(key)} needs confirmation and ${options.json ? '--json never prompts' : 'there is no terminal to ask on'}`,
          {
            hint: 'give --force to delete without asking',
          },
        );
      if (options.json) throw noForce();
      const answer = await askYesNo(`Delete ${title(key)}? It cannot be recovered. [y/N] `);
      if (answer === undefined) throw noForce();
      return answer;
    },
  });
  const { key, outcome } = result;
  const notes: string[] = [];
  if (outcome === 'deleted') {
    notes.push(`Deleted ${title(key)}.`);
    if (file !== undefined)
      notes.push(
        `${file} now refers to a key that is gone: remove it and its public file if they are no longer needed.`,
      );
  } else if (outcome === 'unlisted') {
    notes.push(`The key (${key.name}) had already been deleted outside keymint: it is no longer listed.`);
  } else {
    notes.push('Not deleted.');
  }
  return {
    notes,
    json: { deleted: outcome === 'deleted', outcome, backend: backend.name, key, reference: file ?? null },
  };
}

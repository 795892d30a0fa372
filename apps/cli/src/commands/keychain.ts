import { statSync } from 'node:fs';
import { ErrorCode, KeymintError, parseKeyDocument, readInput } from '@keymint/core';
import type { KeychainKeyInfo, KeychainStore, KeychainTarget } from '@keymint/backend-keychain';
import { keychain, keychainStoreFlag } from '../backends/keychain.js';
import { table, type CommandResult } from '../output.js';
import { askYesNo } from '../prompt.js';

/** The flags of `keymint keychain keys` and `keymint keychain delete`. */
export interface KeychainCommandOptions {
  keychainService?: string;
  keychainStore?: string;
  force?: boolean;
  json?: boolean;
}

type KeychainModule = typeof import('@keymint/backend-keychain');

/** The backend package, loaded only when a keychain command runs. */
async function loadKeychain(): Promise<KeychainModule> {
  try {
    return await import('@keymint/backend-keychain');
  } catch (cause) {
    throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, 'the keychain backend could not be loaded', { cause, hint: `install it: ${keychain.install}` });
  }
}

function storeLabel(store: string | undefined): string {
  if (store === undefined) return '';
  return store === 'secret-service' ? ' in the Secret Service' : ' in the kernel keyring';
}

function describeKey(key: KeychainKeyInfo): string {
  if (key.status === 'missing') return '(missing)';
  if (key.status === 'invalid') return '(not a JWK)';
  return [key.kty, key.crv].filter((p) => p !== undefined).join(' ');
}


function keyJson(key: KeychainKeyInfo): Record<string, unknown> {
  return {
    service: key.service,
    account: key.account,
    store: key.store ?? null,
    status: key.status,
    kid: key.kid ?? null,
    kty: key.kty ?? null,
    crv: key.crv ?? null,
    alg: key.alg ?? null,
    use: key.use ?? null,
    thumbprint: key.thumbprint ?? null,
  };
}

/**
 * `keymint keychain keys`: the keys keymint stored in the keychain under a service.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED, ERR_USAGE (bad --keychain-store)
 */
export async function keychainKeysCommand(options: KeychainCommandOptions): Promise<CommandResult> {
  const store = keychainStoreFlag(options.keychainStore);
  const { listKeychainKeys } = await loadKeychain();
  const listing = await listKeychainKeys({
    ...(options.keychainService === undefined ? {} : { service: options.keychainService }),
    ...(store === undefined ? {} : { store: store as KeychainStore }),
  });
  const where = `service "${listing.service}"${storeLabel(listing.store)}`;
  const count = listing.keys.length;
  const notes = [...listing.warnings.map((w) => `Warning: ${w}`), count === 0 ? `No keys stored by keymint under ${where}.` : `${count} key${count === 1 ? '' : 's'} under ${where}.`];
  const rows = [['ACCOUNT', 'KID', 'KEY', 'ALG'], ...listing.keys.map((k) => [k.account, k.kid ?? '-', describeKey(k), k.alg ?? '-'])];
  return {
    notes,
    ...(count === 0 ? {} : { stdout: table(rows).join('\n') }),
    json: { service: listing.service, store: listing.store ?? null, keys: listing.keys.map(keyJson), warnings: listing.warnings },
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The key a delete is about: from a reference file when `target` is a file, else an account. */
async function deleteTarget(target: string, options: KeychainCommandOptions, module: KeychainModule): Promise<{ target: KeychainTarget; file: string | undefined }> {
  const store = keychainStoreFlag(options.keychainStore);
  if (!isFile(target)) {
    const account: KeychainTarget = { account: target };
    if (options.keychainService !== undefined) account.service = options.keychainService;
    if (store !== undefined) account.store = store as KeychainStore;
    return { target: account, file: undefined };
  }
  const doc = parseKeyDocument(await readInput(target, 'reference file'), target);
  if (doc.kind !== 'reference') {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${target} is not a key reference: keymint keychain delete takes the private file of a keychain key, or an account`);
  }
  if (doc.reference.backend !== module.BACKEND_NAME) {
    throw new KeymintError(ErrorCode.INPUT_INVALID, `${target} refers to a key in the ${doc.reference.backend} backend, not in the keychain`);
  }
  const location = module.keychainLocation(doc.reference);
  const conflicts: string[] = [];
  if (options.keychainService !== undefined && options.keychainService !== location.service) conflicts.push(`--keychain-service ${options.keychainService}`);
  if (store !== undefined && location.store !== undefined && store !== location.store) conflicts.push(`--keychain-store ${store}`);
  if (conflicts.length > 0) {
    throw new KeymintError(ErrorCode.USAGE, `${conflicts.join(' and ')} contradict${conflicts.length === 1 ? 's' : ''} ${target}, which says service "${location.service}"${location.store === undefined ? '' : `, store ${location.store}`}`, {
      hint: 'leave the flags out: the reference file says where the key is',
    });
  }
  return { target: location, file: target };
}

/**
 * `keymint keychain delete`: removes a key from the keychain, by its reference file or account.
 * Asks on the terminal first; without one (or with --json) it needs --force.
 * @throws KeymintError ERR_KEY_NOT_FOUND, ERR_USAGE (no confirmation), ERR_INPUT_INVALID,
 *   ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export async function keychainDeleteCommand(targetArg: string, options: KeychainCommandOptions): Promise<CommandResult> {
  const module = await loadKeychain();
  const { target, file } = await deleteTarget(targetArg, options, module);
  const result = await module.deleteKeychainKey(target, {
    confirm: async (key) => {
      if (options.force) return true;
      const what = `the ${describeKey(key)} key ${key.kid ?? key.account} (service "${key.service}", account "${key.account}")${storeLabel(key.store)}`;
      const noForce = () =>
        new KeymintError(ErrorCode.USAGE, `deleting ${what} needs confirmation and ${options.json ? '--json never prompts' : 'there is no terminal to ask on'}`, {
          hint: 'give --force to delete without asking',
        });
      if (options.json) throw noForce();
      const answer = await askYesNo(`Delete ${what}? It cannot be recovered. [y/N] `);
      if (answer === undefined) throw noForce();
      return answer;
    },
  });
  const { key, outcome } = result;
  const where = `service "${key.service}", account "${key.account}"${storeLabel(key.store)}`;
  const notes: string[] = [];
  if (outcome === 'deleted') {
    notes.push(`Deleted the ${describeKey(key)} key ${key.kid ?? key.account} from the keychain: ${where}.`);
    if (file !== undefined) notes.push(`${file} now refers to a key that is gone: remove it and its public file if they are no longer needed.`);
  } else if (outcome === 'unlisted') {
    notes.push(`The key under ${where} had already been deleted outside keymint: it is no longer listed.`);
  } else {
    notes.push('Not deleted.');
  }
  return {
    notes,
    json: {
      deleted: outcome === 'deleted',
      outcome,
      service: key.service,
      account: key.account,
      store: key.store ?? null,
      kid: key.kid ?? null,
      kty: key.kty ?? null,
      reference: file ?? null,
    },
  };
}

import { ErrorCode, KeymintError, oneOf } from '@keymint/core';

/** The Linux credential stores @napi-rs/keyring can be pinned to. */
export const KEYCHAIN_STORES = ['secret-service', 'keyutils'] as const;
export type KeychainStore = (typeof KEYCHAIN_STORES)[number];

/** The service keys are stored under unless told otherwise. */
export const DEFAULT_SERVICE = 'keymint';

/**
 * The account of keymint's own index entry under each service: the list of accounts it stored,
 * for stores that cannot be searched (keyutils). Key accounts may not take this name.
 */
export const INDEX_ACCOUNT = '.keymint-index';

export interface KeychainBackendOptions {
  /** The keychain service keys are stored under. Default `keymint`. */
  service?: string;
  /** The account of the next key; default its kid (a random name for an oct key without kid). */
  account?: string;
  /**
   * Linux only: pin entries to the Secret Service or the kernel keyring (keyutils). Default: the
   * library's own order: the Secret Service if one answers on the D-Bus session bus, else keyutils.
   */
  store?: KeychainStore;
  /** Replace an existing entry under the same service and account instead of failing. */
  overwrite?: boolean;
}

function invalid(message: string): KeymintError {
  return new KeymintError(ErrorCode.PARAM_INVALID, message);
}

/**
 * Checks a keychain store name.
 * @throws KeymintError ERR_PARAM_INVALID for anything but secret-service or keyutils
 */
export function checkStore(value: unknown, what = 'keychain store'): KeychainStore | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (KEYCHAIN_STORES as readonly string[]).includes(value))
    return value as KeychainStore;
  throw invalid(`${what} "${String(value)}" is not a store: use ${oneOf([...KEYCHAIN_STORES])}`);
}

/**
 * Checks a service name: non-empty, printable, on one line.
 * @throws KeymintError ERR_PARAM_INVALID
 */
export function checkService(value: unknown): string {
  if (value === undefined) return DEFAULT_SERVICE;
  if (typeof value !== 'string' || value.length === 0 || /[\u0000-\u001f\u007f]/u.test(value)) {
    throw invalid('the keychain service must be a non-empty name without control characters');
  }
  return value;
}

/**
 * Checks an account name: non-empty, printable, and not keymint's own index entry.
 * @throws KeymintError ERR_PARAM_INVALID
 */
export function checkAccount(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || /[\u0000-\u001f\u007f]/u.test(value)) {
    throw invalid('the keychain account must be a non-empty name without control characters');
  }
  if (value === INDEX_ACCOUNT)
    throw invalid(`the keychain account "${INDEX_ACCOUNT}" is reserved: keymint keeps its list of keys there`);
  return value;
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_.@:+=,/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that deletes an entry, as a user types it: the service flag when it is not the
 * default, and `--` before an account that starts with a dash, as a base64url kid may.
 */
export function deleteCommandFor(service: string, account: string): string {
  const flag = service === DEFAULT_SERVICE ? '' : `--keychain-service ${shellWord(service)} `;
  return `keymint keychain delete ${flag}${account.startsWith('-') ? '-- ' : ''}${shellWord(account)}`;
}

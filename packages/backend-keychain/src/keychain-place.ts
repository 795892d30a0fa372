import { loadBinding, type KeyringBinding, type KeyringEntry } from './binding.js';
import { keychainError, detailOf, type ErrorContext } from './keychain-error.js';
import { checkService, type KeychainStore } from './options.js';

/**
 * One service in one keychain store: where entries are read, written and searched. On Linux the
 * store is always resolved and pinned, so that a reference names the store that holds its key.
 */
export interface KeychainPlace {
  service: string;
  /** The Linux store; undefined on macOS and Windows, which have one keychain each. */
  store: KeychainStore | undefined;
  /** Why the Secret Service was not used when no store was asked for. */
  fallback: string | undefined;
  binding: KeyringBinding;
}

export const IS_LINUX = process.platform === 'linux';

function entryOptions(store: KeychainStore | undefined): { linux: { store: KeychainStore } } | undefined {
  return store === undefined ? undefined : { linux: { store } };
}

/**
 * Finds where a service lives. With a store given (Linux), that store; without one, the library's
 * own order: the Secret Service if one answers on the D-Bus session bus, else the kernel keyring.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE when the binding cannot load
 */
export async function resolvePlace(
  service: string | undefined,
  store: KeychainStore | undefined,
): Promise<KeychainPlace> {
  const name = checkService(service);
  const binding = await loadBinding();
  if (!IS_LINUX) return { service: name, store: undefined, fallback: undefined, binding };
  if (store !== undefined) return { service: name, store, fallback: undefined, binding };
  try {
    // Pinning the Secret Service fails at once when no session bus answers or nothing on it
    // provides org.freedesktop.secrets: the cases where the library itself falls back.
    new binding.AsyncEntry(name, 'probe', entryOptions('secret-service'));
    return { service: name, store: 'secret-service', fallback: undefined, binding };
  } catch (error) {
    return { service: name, store: 'keyutils', fallback: detailOf(error), binding };
  }
}

export function contextOf(place: KeychainPlace, account?: string): ErrorContext {
  return {
    service: place.service,
    store: place.store,
    fallback: place.fallback,
    ...(account === undefined ? {} : { account }),
  };
}

async function withEntry<T>(
  place: KeychainPlace,
  account: string,
  doing: string,
  action: (entry: KeyringEntry) => Promise<T>,
): Promise<T> {
  try {
    return await action(new place.binding.AsyncEntry(place.service, account, entryOptions(place.store)));
  } catch (error) {
    throw keychainError(error, contextOf(place, account), doing);
  }
}

/**
 * The secret of an entry, or null when there is none.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED, ERR_INPUT_INVALID (not text)
 */
export function readSecret(place: KeychainPlace, account: string): Promise<string | null> {
  return withEntry(place, account, 'reading', (entry) => entry.getPassword());
}

/**
 * Sets the secret of an entry, replacing what it held.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED, ERR_ALG_NOT_SUPPORTED (too long)
 */
export function writeSecret(place: KeychainPlace, account: string, secret: string): Promise<void> {
  return withEntry(place, account, 'writing', (entry) => entry.setPassword(secret));
}

/**
 * Removes an entry; false when there was none.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export function deleteSecret(place: KeychainPlace, account: string): Promise<boolean> {
  return withEntry(place, account, 'deleting', (entry) => entry.deleteCredential());
}

/** Whether the store can list a service's entries itself (keyutils cannot). */
export function canSearch(place: KeychainPlace): boolean {
  return place.store !== 'keyutils';
}

/**
 * Every entry of the service with its secret, where the store can search; undefined where it cannot.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export async function searchSecrets(
  place: KeychainPlace,
): Promise<Array<{ account: string; password: string }> | undefined> {
  if (!canSearch(place)) return undefined;
  try {
    return await place.binding.findCredentialsAsync(place.service);
  } catch (error) {
    throw keychainError(error, contextOf(place), 'searching');
  }
}

import { isKeymintError, ErrorCode } from '@keymint/core';
import { readIndex } from './key-index.js';
import { IS_LINUX, resolvePlace, searchSecrets } from './keychain-place.js';
import { INDEX_ACCOUNT, deleteCommandFor, checkStore, type KeychainStore } from './options.js';
import { describeStoredKey, looksLikeJwk, readStoredSecret, type KeychainKeyInfo } from './stored-key.js';

export interface ListKeychainOptions {
  /** The service to list. Default `keymint`. */
  service?: string;
  /** Linux only: the store to look in. Default: the Secret Service if one answers on the session bus, else keyutils. */
  store?: KeychainStore;
}

export interface KeychainListing {
  service: string;
  store: KeychainStore | undefined;
  /** Whether the store was searched too (Secret Service, macOS, Windows), not just keymint's index. */
  searched: boolean;
  keys: KeychainKeyInfo[];
  /** Things a user should know: a damaged index, keys deleted behind keymint's back. */
  warnings: string[];
}

/**
 * Lists the keys keymint stored under a service: the accounts in keymint's index entry, plus,
 * where the store can search (Secret Service, macOS, Windows), every entry of the service that
 * holds a JWK. Each key is read to report its kid and type, so the list shows what is really there.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 * @example (await listKeychainKeys({ service: 'keymint' })).keys.map((k) => k.kid)
 */
export async function listKeychainKeys(options: ListKeychainOptions = {}): Promise<KeychainListing> {
  const place = await resolvePlace(options.service, checkStore(options.store));
  const warnings: string[] = [];
  const index = await readIndex(place);
  if (index.damaged) {
    warnings.push(
      `keymint's index entry (account ${INDEX_ACCOUNT}) under service "${place.service}" is damaged: it is rebuilt on the next create or delete`,
    );
  }
  let found: Array<{ account: string; password: string }> | undefined;
  try {
    found = await searchSecrets(place);
  } catch (error) {
    // Searching is untested off Linux: keep to the index there rather than fail the listing.
    if (IS_LINUX || isKeymintError(error, ErrorCode.BACKEND_LOCKED)) throw error;
    warnings.push(
      `the keychain could not be searched (${error instanceof Error ? error.message : String(error)}): listing keymint's index only`,
    );
  }
  const secrets = new Map<string, string>();
  for (const entry of found ?? []) {
    if (entry.account !== INDEX_ACCOUNT && looksLikeJwk(entry.password)) secrets.set(entry.account, entry.password);
  }
  const accounts = [...new Set([...index.accounts, ...secrets.keys()])].sort();
  const keys: KeychainKeyInfo[] = [];
  for (const account of accounts) {
    keys.push(
      await describeStoredKey(
        place,
        account,
        secrets.has(account) ? (secrets.get(account) as string) : await readStoredSecret(place, account),
      ),
    );
  }
  const missing = keys.filter((k) => k.status === 'missing');
  if (missing.length > 0) {
    warnings.push(
      `${missing.length === 1 ? 'a key' : `${missing.length} keys`} in keymint's index ${missing.length === 1 ? 'is' : 'are'} no longer in the keychain (deleted outside keymint): ${deleteCommandFor(place.service, missing[0]?.account ?? '')} clears ${missing.length === 1 ? 'it' : 'each'}`,
    );
  }
  return { service: place.service, store: place.store, searched: found !== undefined, keys, warnings };
}

import { ErrorCode, KeymintError } from '@keymint/core';
import { describeEntry } from './keychain-error.js';
import { readIndex, removeFromIndex } from './key-index.js';
import { contextOf, deleteSecret, resolvePlace } from './keychain-place.js';
import { deleteCommandFor, checkAccount, checkStore, type KeychainStore } from './options.js';
import { describeStoredKey, readStoredSecret, type KeychainKeyInfo } from './stored-key.js';

/** Which key to delete: a keychain reference's location, or a service (default keymint) and account. */
export interface KeychainTarget {
  service?: string;
  account: string;
  /** Linux only: the store; default as for listing. */
  store?: KeychainStore;
  /** From a reference: refuse when the entry holds another key. */
  thumbprint?: string;
}

export interface DeleteKeychainOptions {
  /** Asked with the key about to go; false keeps it. Not called when there is nothing to delete. */
  confirm?: (key: KeychainKeyInfo) => boolean | Promise<boolean>;
}

export interface KeychainDeletion {
  key: KeychainKeyInfo;
  /**
   * `deleted`: the entry is gone. `declined`: confirm said no. `unlisted`: the entry had already
   * been deleted outside keymint; it was taken off keymint's index.
   */
  outcome: 'deleted' | 'declined' | 'unlisted';
}

/**
 * Deletes a key keymint stored in the keychain, and takes it off keymint's index.
 * @throws KeymintError ERR_KEY_NOT_FOUND (no such entry), ERR_INPUT_INVALID (the entry holds
 *   another key than the reference), ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 * @example await deleteKeychainKey({ account: kid }, { confirm: async (key) => ask(`delete ${key.kid}?`) });
 */
export async function deleteKeychainKey(
  target: KeychainTarget,
  options: DeleteKeychainOptions = {},
): Promise<KeychainDeletion> {
  const account = checkAccount(target.account);
  const place = await resolvePlace(target.service, checkStore(target.store));
  const context = contextOf(place, account);
  const key = await describeStoredKey(place, account, await readStoredSecret(place, account));
  if (key.status === 'missing') {
    if (!(await readIndex(place)).accounts.includes(account)) {
      throw new KeymintError(ErrorCode.KEY_NOT_FOUND, `no key in the keychain under ${describeEntry(context)}`, {
        hint: 'keymint keychain keys lists the keys that are there',
      });
    }
    await removeFromIndex(place, account);
    return { key, outcome: 'unlisted' };
  }
  if (target.thumbprint !== undefined && key.status === 'ok' && key.thumbprint !== target.thumbprint) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the keychain entry ${describeEntry(context)} holds another key than the reference: not deleted`,
      {
        hint: `it was replaced under the same account; delete it by account if it must go (${deleteCommandFor(place.service, account)})`,
      },
    );
  }
  if (options.confirm !== undefined && !(await options.confirm(key))) return { key, outcome: 'declined' };
  if (!(await deleteSecret(place, account))) {
    throw new KeymintError(
      ErrorCode.KEY_NOT_FOUND,
      `no key in the keychain under ${describeEntry(context)}: it was deleted meanwhile`,
    );
  }
  await removeFromIndex(place, account);
  return { key, outcome: 'deleted' };
}

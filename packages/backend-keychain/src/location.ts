import { ErrorCode, KeymintError, type KeyReference } from '@keymint/core';
import { checkAccount, checkService, checkStore, type KeychainStore } from './options.js';

/** The name of this backend, as it appears in key references. */
export const BACKEND_NAME = 'keychain';

/**
 * Where a key lives in the keychain: the `location` of its key reference. It holds no secret:
 * the service and account of the entry, the Linux store that holds it, and the RFC 7638
 * thumbprint of the public key, to tell the key from another one later stored under the name.
 */
export interface KeychainLocation {
  service: string;
  account: string;
  /** Linux only: the store that holds the entry. */
  store?: KeychainStore;
  /** RFC 7638 SHA-256 thumbprint of the public key; absent for oct keys. */
  thumbprint?: string;
}

/** The reference keymint writes in the private file of a keychain key. */
export function toReference(location: KeychainLocation): KeyReference {
  const record: Record<string, string> = { service: location.service, account: location.account };
  if (location.store !== undefined) record.store = location.store;
  if (location.thumbprint !== undefined) record.thumbprint = location.thumbprint;
  return { backend: BACKEND_NAME, location: record };
}

/**
 * Reads the location out of a key reference.
 * @throws KeymintError ERR_INPUT_INVALID when the reference is not a keychain one or is malformed
 * @example keychainLocation({ backend: 'keychain', location: { service: 'keymint', account: 'abc' } })
 */
export function keychainLocation(reference: KeyReference): KeychainLocation {
  if (reference.backend !== BACKEND_NAME) {
    throw new KeymintError(
      ErrorCode.INPUT_INVALID,
      `the key reference points at the ${reference.backend} backend, not the keychain`,
    );
  }
  const { service, account, store, thumbprint } = reference.location;
  try {
    const location: KeychainLocation = { service: checkService(service), account: checkAccount(account) };
    const pinned = checkStore(store);
    if (pinned !== undefined) location.store = pinned;
    if (thumbprint !== undefined) location.thumbprint = thumbprint;
    return location;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new KeymintError(ErrorCode.INPUT_INVALID, `the keychain reference is malformed: ${detail}`, { cause: error });
  }
}

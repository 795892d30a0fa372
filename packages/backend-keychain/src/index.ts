import { keychainBackend } from './keychain-backend.js';

export { keychainBackend, loadKeychainKey } from './keychain-backend.js';
export { listKeychainKeys, type ListKeychainOptions, type KeychainListing } from './list-keys.js';
export {
  deleteKeychainKey,
  type KeychainTarget,
  type DeleteKeychainOptions,
  type KeychainDeletion,
} from './delete-key.js';
export { keychainLocation, toReference, BACKEND_NAME, type KeychainLocation } from './location.js';
export { INDEX_TYPE } from './key-index.js';
export type { KeychainKeyInfo } from './stored-key.js';
export {
  DEFAULT_SERVICE,
  INDEX_ACCOUNT,
  KEYCHAIN_STORES,
  type KeychainBackendOptions,
  type KeychainStore,
} from './options.js';
export default keychainBackend;

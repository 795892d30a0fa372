import { ErrorCode, KeymintError } from '@keymint/core';
import type { BackendEntry } from './types.js';

/** The Linux stores --keychain-store accepts (the backend package checks them again). */
const STORES = ['secret-service', 'keyutils'];

/** Whether a string flag was given. */
function given(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The --keychain-store flag, checked here so a typo is a usage error.
 * @throws KeymintError ERR_USAGE
 */
export function keychainStoreFlag(value: unknown): string | undefined {
  const store = given(value);
  if (store !== undefined && !STORES.includes(store)) {
    throw new KeymintError(ErrorCode.USAGE, `--keychain-store "${store}" is not a store: use secret-service or keyutils`);
  }
  return store;
}

export const keychain: BackendEntry = {
  name: 'keychain',
  summary: "the private JWK kept in the OS keychain (macOS Keychain, Windows Credential Manager, Secret Service, keyutils); the private file is a reference",
  load: () => import('@keymint/backend-keychain'),
  install: 'pnpm add @keymint/backend-keychain',
  flags: [
    { flags: '--keychain-service <name>', description: 'keychain service the key is stored under (default: keymint)' },
    { flags: '--keychain-account <name>', description: 'keychain account of the key (default: its kid)' },
    { flags: '--keychain-store <store>', description: 'Linux store: secret-service or keyutils (default: the Secret Service if one answers on the D-Bus session bus, else keyutils)' },
  ],
  factoryOptions: ({ options }) => {
    const out: Record<string, unknown> = {};
    const service = given(options.keychainService);
    const account = given(options.keychainAccount);
    const store = keychainStoreFlag(options.keychainStore);
    if (service !== undefined) out.service = service;
    if (account !== undefined) out.account = account;
    if (store !== undefined) out.store = store;
    if (options.force === true) out.overwrite = true;
    return out;
  },
};

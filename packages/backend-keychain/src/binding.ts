import { ErrorCode, KeymintError } from '@keymint/core';

/** The part of @napi-rs/keyring keymint uses. */
export interface KeyringBinding {
  AsyncEntry: new (service: string, account: string, options?: { linux?: { store?: string } } | null) => KeyringEntry;
  findCredentialsAsync: (service: string) => Promise<Array<{ account: string; password: string }>>;
}

export interface KeyringEntry {
  getPassword(): Promise<string | null>;
  setPassword(password: string): Promise<void>;
  deleteCredential(): Promise<boolean>;
}

let loading: Promise<KeyringBinding> | undefined;

/**
 * Loads the native keychain binding the first time a keychain is used, never before: keymint's
 * other commands and backends must work where it cannot load.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE when @napi-rs/keyring or its native part is missing
 */
export function loadBinding(): Promise<KeyringBinding> {
  loading ??= import('@napi-rs/keyring').then(
    (module) => module as unknown as KeyringBinding,
    (cause: unknown) => {
      loading = undefined;
      throw new KeymintError(
        ErrorCode.BACKEND_UNAVAILABLE,
        `the keychain binding @napi-rs/keyring could not be loaded on ${process.platform}-${process.arch}`,
        {
          cause,
          hint: 'install it with its native part for this platform: pnpm add @napi-rs/keyring',
        },
      );
    },
  );
  return loading;
}

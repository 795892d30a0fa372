import { expect } from 'vitest';
import { ErrorCode, createKey, isKeymintError, type KeyBackend } from '@keymint/core';
import { toolStatus, uniqueService, type ToolResult } from '@keymint/test-kit';
import {
  deleteKeychainKey,
  keychainBackend,
  keychainLocation,
  listKeychainKeys,
  type KeychainStore,
  type KeychainTarget,
} from '../../src/index.js';

/** Deletes every key keymint lists under the service, and so its index entry. */
export async function removeAllKeys(service: string, store: KeychainStore): Promise<void> {
  const { keys } = await listKeychainKeys({ service, store });
  for (const key of keys) await deleteKeychainKey({ service, account: key.account, store });
}

/**
 * Fails with a clear message unless the kernel keyring takes entries from this process: the
 * package's `test` script runs vitest under a fresh session keyring (`keyctl session -`) for that.
 */
export async function assertKeyutilsUsable(): Promise<void> {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  const probe = new AsyncEntry(uniqueService('probe'), 'probe', { linux: { store: 'keyutils' } });
  try {
    await probe.setPassword('probe');
    await probe.deleteCredential();
  } catch (error) {
    await probe.deleteCredential().catch(() => undefined);
    throw new Error(
      `the kernel keyring refuses entries (${String(error)}): run the tests with "pnpm test", which wraps vitest in "keyctl session -"`,
    );
  }
}

/** Runs `secret-tool` (libsecret-tools) on this run's bus: an independent look at the Secret Service. */
export function secretTool(args: readonly string[], input?: string): ToolResult {
  return toolStatus('secret-tool', args, { input, timeoutMs: 30_000 });
}

/** Runs `keyctl` (keyutils) in this process's session keyring: an independent look at keyutils. */
export function keyctl(args: readonly string[]): ToolResult {
  return toolStatus('keyctl', args, { timeoutMs: 30_000 });
}

/**
 * With no store asked for and no Secret Service to reach, a key goes to the kernel keyring, as the
 * library does, and its reference says so.
 */
export async function expectKeyutilsFallback(what: string): Promise<void> {
  const service = uniqueService(what);
  const key = await createKey(await keychainBackend({ service }), { kty: 'EC' });
  if (key.private?.kind !== 'reference') throw new Error('expected a reference');
  expect(keychainLocation(key.private.reference).store).toBe('keyutils');
  await removeAllKeys(service, 'keyutils');
}

/**
 * The backend, deleting each key when the next one is made: the conformance suite uses a key
 * only in its own case, and the kernel's quota for a user who is not root (20000 bytes) would not
 * hold every key of the suite at once.
 */
export function oneKeyAtATime(backend: KeyBackend): KeyBackend {
  let last: KeychainTarget | undefined;
  return {
    ...backend,
    name: backend.name,
    capabilities: backend.capabilities,
    async generate(spec, context) {
      // The key may be gone already: the conformance suite deletes keys too.
      if (last !== undefined)
        await deleteKeychainKey(last).catch((error: unknown) => {
          if (!isKeymintError(error, ErrorCode.KEY_NOT_FOUND)) throw error;
        });
      last = undefined;
      const key = await backend.generate(spec, context);
      if (key.private.kind === 'reference') last = keychainLocation(key.private.reference);
      return key;
    },
  };
}

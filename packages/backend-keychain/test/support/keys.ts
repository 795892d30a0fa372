import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ErrorCode, KeymintError, isKeymintError, type KeyBackend } from '@keymint/core';
import { deleteKeychainKey, keychainLocation, listKeychainKeys, type KeychainStore, type KeychainTarget } from '../../src/index.js';

/** A service name no other test (or earlier run) uses: the kernel keyring outlives the run. */
export function uniqueService(what: string): string {
  return `keymint-test-${what}-${randomBytes(4).toString('hex')}`;
}

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
    throw new Error(`the kernel keyring refuses entries (${String(error)}): run the tests with "pnpm test", which wraps vitest in "keyctl session -"`);
  }
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `secret-tool` (libsecret-tools) on this run's bus: an independent look at the Secret Service. */
export function secretTool(args: readonly string[], input?: string): ToolResult {
  const result = spawnSync('secret-tool', [...args], { encoding: 'utf8', input, timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `keyctl` (keyutils) in this process's session keyring: an independent look at keyutils. */
export function keyctl(args: readonly string[]): ToolResult {
  const result = spawnSync('keyctl', [...args], { encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Awaits a promise that must fail with a one-line KeymintError of `code`, and returns it. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<KeymintError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof KeymintError)) throw new Error(`expected a KeymintError ${code}, got ${String(error)}`);
  if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
  if (/\n/.test(error.message) || (error.hint !== undefined && /\n/.test(error.hint))) throw new Error(`the message is not one line: ${error.message}`);
  return error;
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
      if (last !== undefined) await deleteKeychainKey(last).catch((error: unknown) => {
        if (!isKeymintError(error, ErrorCode.KEY_NOT_FOUND)) throw error;
      });
      last = undefined;
      const key = await backend.generate(spec, context);
      if (key.private.kind === 'reference') last = keychainLocation(key.private.reference);
      return key;
    },
  };
}

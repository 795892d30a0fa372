import { randomUUID } from 'node:crypto';
import { softwareBackend } from '@keymint/backend-software';
import {
  ErrorCode,
  KeymintError,
  thumbprint,
  type BackendCapabilities,
  type Deletion,
  type GenerateContext,
  type GeneratedKey,
  type Jwk,
  type KeyBackend,
  type KeyListing,
  type KeyReference,
  type KeySpec,
  type PrivatePart,
  type StoredKey,
  type UnwrapParams,
} from '@keymint/core';
import { deleteKeychainKey, type KeychainTarget } from './delete-key.js';
import { listKeychainKeys } from './list-keys.js';
import type { KeychainKeyInfo } from './stored-key.js';
import { describeEntry } from './keychain-error.js';
import { addToIndex } from './key-index.js';
import {
  contextOf,
  deleteSecret,
  readSecret,
  resolvePlace,
  writeSecret,
  type KeychainPlace,
} from './keychain-place.js';
import { BACKEND_NAME, keychainLocation, toReference, type KeychainLocation } from './location.js';
import { deleteCommandFor, checkAccount, checkService, checkStore, type KeychainBackendOptions } from './options.js';
import { assertSameKey, parseStoredJwk } from './stored-key.js';

/**
 * Loads the private JWK a keychain reference points at, checked to be the key the reference
 * was made for.
 * @throws KeymintError ERR_KEY_NOT_FOUND (no entry), ERR_INPUT_INVALID (not a JWK, another key),
 *   ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export async function loadKeychainKey(location: KeychainLocation): Promise<Jwk> {
  const place = await resolvePlace(location.service, location.store);
  const context = contextOf(place, location.account);
  const secret = await readSecret(place, location.account);
  if (secret === null) {
    throw new KeymintError(
      ErrorCode.KEY_NOT_FOUND,
      `no key in the keychain under ${describeEntry(context)}: it was deleted, or the reference comes from another user or machine`,
      {
        hint: 'keymint keychain keys lists the keys that are there',
      },
    );
  }
  const jwk = parseStoredJwk(secret, context);
  await assertSameKey(jwk, location.thumbprint, context);
  return jwk;
}

/** The private JWK a keychain reference points at; a JWK in hand is not this backend's. */
async function heldKey(key: PrivatePart): Promise<Jwk> {
  if (key.kind !== 'reference') {
    throw new KeymintError(
      ErrorCode.ALG_NOT_SUPPORTED,
      'the keychain backend decrypts with the keys it holds: give it a keychain key reference, not a JWK',
    );
  }
  return loadKeychainKey(keychainLocation(key.reference));
}

/**
 * A backend that keeps private keys in the operating system's keychain (macOS Keychain, Windows
 * Credential Manager, the Secret Service or the kernel keyring on Linux) through @napi-rs/keyring.
 * Keys are made by the software backend; the private JWK is stored as the secret of an entry
 * (service, account = kid) and never written to disk: the private file gets a key reference.
 * The binding is loaded on first use.
 * It lists and deletes the keys keymint stored under its service (`list`, `delete`), says which
 * store it uses (`describe`), and decrypts JWEs with its keys in this process (`unwrapKey`,
 * `deriveSharedSecret`, through the software backend).
 * @throws KeymintError ERR_PARAM_INVALID for a malformed service, account or store
 * @example const key = await createKey(await keychainBackend({ service: 'keymint' }), { kty: 'EC' });
 */
export async function keychainBackend(options: KeychainBackendOptions = {}): Promise<KeyBackend> {
  const software = await softwareBackend();
  const service = checkService(options.service);
  const account = options.account === undefined ? undefined : checkAccount(options.account);
  const store = checkStore(options.store);
  const capabilities: BackendCapabilities = {
    exportable: false,
    keyTypes: software.capabilities.keyTypes,
    operations: ['list', 'delete', 'describe'],
    keyOperations: ['unwrapKey', 'deriveSharedSecret'],
  };
  let place: Promise<KeychainPlace> | undefined;
  const openPlace = () => {
    place ??= resolvePlace(service, store).catch((error: unknown) => {
      place = undefined;
      throw error;
    });
    return place;
  };

  return {
    name: BACKEND_NAME,
    capabilities,
    async generate(spec: KeySpec, context: GenerateContext): Promise<GeneratedKey> {
      const where = await openPlace();
      /** Fails when the entry exists and may not be replaced; else tells whether it existed. */
      const refuseExisting = async (name: string): Promise<boolean> => {
        const exists = (await readSecret(where, name)) !== null;
        if (!exists || options.overwrite) return exists;
        throw new KeymintError(
          ErrorCode.KEY_EXISTS,
          `the keychain already holds an entry under ${describeEntry(contextOf(where, name))}`,
          {
            hint: `choose another --keychain-account, delete it (${deleteCommandFor(where.service, name)}), or replace it with --force`,
          },
        );
      };
      // A given account is checked before a (slow) key is made; a kid only exists after.
      if (account !== undefined) await refuseExisting(account);
      const made = await software.generate(spec, context);
      if (made.private.kind !== 'jwk')
        throw new KeymintError(ErrorCode.ALG_NOT_SUPPORTED, 'the software backend did not hand out the private key');
      const kid = await context.kid(made.publicJwk);
      // An oct key has no kid unless given one, and no thumbprint to name it after.
      const name = account ?? kid ?? `oct-${randomUUID()}`;
      checkAccount(name);
      const existed = await refuseExisting(name);
      try {
        await writeSecret(where, name, JSON.stringify(context.privateJwk(made.private.jwk, kid)));
        await addToIndex(where, name);
      } catch (error) {
        // A half-done write (keyutils can create an entry it then refuses to fill) or a key
        // keymint could not list must not stay behind; a replaced key is gone either way.
        if (!existed) await deleteSecret(where, name).catch(() => undefined);
        throw error;
      }
      const location: KeychainLocation = { service: where.service, account: name };
      if (where.store !== undefined) location.store = where.store;
      if (made.publicJwk !== null) location.thumbprint = await thumbprint(made.publicJwk);
      return { publicJwk: made.publicJwk, private: { kind: 'reference', reference: toReference(location) } };
    },
    async sign(key: PrivatePart, alg: string, data: Uint8Array): Promise<Uint8Array> {
      if (key.kind !== 'reference') {
        throw new KeymintError(
          ErrorCode.ALG_NOT_SUPPORTED,
          'the keychain backend signs with the keys it holds: give it a keychain key reference, not a JWK',
        );
      }
      const jwk = await loadKeychainKey(keychainLocation(key.reference));
      return software.sign({ kind: 'jwk', jwk }, alg, data);
    },
    // Decryption runs in this process, as signing does: the private JWK is read from the keychain
    // for the one operation and handed to the software backend.
    async unwrapKey(
      key: PrivatePart,
      alg: string,
      encryptedKey: Uint8Array,
      params: UnwrapParams,
    ): Promise<Uint8Array> {
      return software.unwrapKey!({ kind: 'jwk', jwk: await heldKey(key) }, alg, encryptedKey, params);
    },
    async deriveSharedSecret(key: PrivatePart, publicJwk: Jwk): Promise<Uint8Array> {
      return software.deriveSharedSecret!({ kind: 'jwk', jwk: await heldKey(key) }, publicJwk);
    },
    async list(): Promise<KeyListing> {
      const listing = await listKeychainKeys({ service, ...(store === undefined ? {} : { store }) });
      return {
        where: `under ${describeService(listing.service, listing.store)}`,
        keys: listing.keys.map(storedKey),
        warnings: listing.warnings,
        details: { service: listing.service, store: listing.store ?? null, searched: listing.searched },
      };
    },
    async delete(target: KeyReference | string, deleteOptions = {}): Promise<Deletion> {
      const location: KeychainTarget =
        typeof target === 'string'
          ? { service, account: target, ...(store === undefined ? {} : { store }) }
          : keychainLocation(target);
      const { confirm } = deleteOptions;
      const result = await deleteKeychainKey(
        location,
        confirm === undefined ? {} : { confirm: (key) => confirm(storedKey(key)) },
      );
      return { key: storedKey(result.key), outcome: result.outcome };
    },
    async describe() {
      const where = await openPlace();
      const summary = `${describeService(where.service, where.store)}${where.fallback === undefined ? '' : ` (no Secret Service: ${where.fallback})`}`;
      return {
        summary,
        lines: [],
        details: { service: where.service, store: where.store ?? null, fallback: where.fallback ?? null },
      };
    },
    async close(): Promise<void> {
      // The binding keeps no session open between calls: nothing to release.
    },
  };
}

/** `service "keymint", account "k1" in the Secret Service`: where an entry is, for people. */
function describeService(service: string, store: string | undefined, account?: string): string {
  const names = account === undefined ? `service "${service}"` : `service "${service}", account "${account}"`;
  return store === undefined
    ? names
    : `${names} ${store === 'secret-service' ? 'in the Secret Service' : 'in the kernel keyring'}`;
}

/** A keychain entry as every backend lists keys: the account is what `delete` takes. */
function storedKey(key: KeychainKeyInfo): StoredKey {
  const location: KeychainLocation = { service: key.service, account: key.account };
  if (key.store !== undefined) location.store = key.store;
  if (key.thumbprint !== undefined) location.thumbprint = key.thumbprint;
  return {
    id: key.account,
    name: describeService(key.service, key.store, key.account),
    status: key.status,
    kid: key.kid ?? null,
    kty: key.kty ?? null,
    crv: key.crv ?? null,
    size: null,
    alg: key.alg ?? null,
    use: key.use ?? null,
    reference: key.status === 'ok' ? toReference(location) : null,
    details: {
      service: key.service,
      account: key.account,
      store: key.store ?? null,
      thumbprint: key.thumbprint ?? null,
    },
  };
}

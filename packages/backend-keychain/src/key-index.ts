import { deleteSecret, readSecret, searchSecrets, writeSecret, type KeychainPlace } from './keychain-place.js';
import { INDEX_ACCOUNT } from './options.js';
import { looksLikeJwk } from './stored-key.js';

/** The `type` of keymint's index entry. */
export const INDEX_TYPE = 'keymint-keychain-index';

/**
 * The accounts keymint stored under one service, kept as the secret of one more entry (account
 * `.keymint-index`) because the kernel keyring cannot list entries. Only names: kid and key type
 * are read from the keys themselves, so the index never disagrees with them.
 */
export interface KeyIndex {
  accounts: string[];
  /** The index entry exists but holds something else than an index; it is rebuilt on the next write. */
  damaged: boolean;
}

function parseIndex(text: string | null): KeyIndex {
  if (text === null) return { accounts: [], damaged: false };
  try {
    const doc = JSON.parse(text) as { type?: unknown; version?: unknown; accounts?: unknown };
    if (
      doc.type === INDEX_TYPE &&
      doc.version === 1 &&
      Array.isArray(doc.accounts) &&
      doc.accounts.every((a) => typeof a === 'string')
    ) {
      return { accounts: [...new Set(doc.accounts as string[])], damaged: false };
    }
  } catch {
    // falls through: damaged
  }
  return { accounts: [], damaged: true };
}

/**
 * Reads the index of a service.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export async function readIndex(place: KeychainPlace): Promise<KeyIndex> {
  return parseIndex(await readSecret(place, INDEX_ACCOUNT));
}

/** What a damaged index is rebuilt from: the entries the store can find that hold JSON with "kty". */
async function rebuild(place: KeychainPlace): Promise<string[]> {
  const found = (await searchSecrets(place)) ?? [];
  return found.filter((c) => c.account !== INDEX_ACCOUNT && looksLikeJwk(c.password)).map((c) => c.account);
}

async function update(
  place: KeychainPlace,
  change: (accounts: string[]) => string[],
  done: (accounts: string[]) => boolean,
): Promise<void> {
  // Read, change, write, read back: a keymint running at the same time may have written in
  // between; a few rounds settle it.
  for (let round = 0; round < 5; round++) {
    const index = await readIndex(place);
    const current = index.damaged ? await rebuild(place) : index.accounts;
    if (done(current) && !index.damaged) return;
    const next = change(current).sort();
    if (next.length === 0) await deleteSecret(place, INDEX_ACCOUNT);
    else await writeSecret(place, INDEX_ACCOUNT, JSON.stringify({ type: INDEX_TYPE, version: 1, accounts: next }));
    const after = await readIndex(place);
    if (!after.damaged && done(after.accounts)) return;
  }
}

/**
 * Adds an account to the index of its service.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export function addToIndex(place: KeychainPlace, account: string): Promise<void> {
  return update(
    place,
    (accounts) => [...new Set([...accounts, account])],
    (accounts) => accounts.includes(account),
  );
}

/**
 * Removes an account from the index of its service; the index entry goes when it is empty.
 * @throws KeymintError ERR_BACKEND_UNAVAILABLE, ERR_BACKEND_LOCKED
 */
export function removeFromIndex(place: KeychainPlace, account: string): Promise<void> {
  return update(
    place,
    (accounts) => accounts.filter((a) => a !== account),
    (accounts) => !accounts.includes(account),
  );
}

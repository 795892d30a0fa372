/** @keymint/core/keysets: JWK Sets: add, remove, find, and change a set file under its lock. */
export * from '../keyset.js';

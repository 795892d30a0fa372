// Makes one key with the built package and prints the outcome as JSON: for tests that must run
// keymint in a process of its own (another session keyring, another bus).
import { createKey } from '@keymint/core';
import { keychainBackend } from '../../dist/index.js';

const [service, store] = process.argv.slice(2);
try {
  const key = await createKey(await keychainBackend({ service, ...(store ? { store } : {}) }), { kty: 'EC' });
  process.stdout.write(JSON.stringify({ ok: true, reference: key.private?.reference }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, code: error.code, message: error.message, hint: error.hint }));
}

import { afterAll } from 'vitest';
import { describeBackendConformance } from '@keymint/core/testing';
import { keychainBackend } from '../src/index.js';
import { uniqueService } from '@keymint/test-kit';
import { removeAllKeys } from './support/keys.js';

const service = uniqueService('conformance-ss');
afterAll(() => removeAllKeys(service, 'secret-service'));

describeBackendConformance('keychain (Secret Service)', () => keychainBackend({ service, store: 'secret-service' }), {
  reload: { module: new URL('../dist/index.js', import.meta.url), options: { service, store: 'secret-service' } },
});

import { afterAll, beforeAll } from 'vitest';
import { describeBackendConformance } from '@keymint/core/testing';
import { keychainBackend } from '../src/index.js';
import { uniqueService } from '@keymint/test-kit';
import { assertKeyutilsUsable, oneKeyAtATime, removeAllKeys } from './support/keys.js';

const service = uniqueService('conformance-keyutils');
beforeAll(assertKeyutilsUsable);
afterAll(() => removeAllKeys(service, 'keyutils'));

describeBackendConformance(
  'keychain (keyutils)',
  async () => oneKeyAtATime(await keychainBackend({ service, store: 'keyutils' })),
  {
    reload: { module: new URL('../dist/index.js', import.meta.url), options: { service, store: 'keyutils' } },
  },
);
